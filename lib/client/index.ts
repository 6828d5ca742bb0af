export { addBundle, AddFailedError, type AddProgress } from './add';
export {
  describePackage,
  listPackages,
  removePackage,
  collectGarbage,
  readAuditLog,
  resolveConnection,
  type Connection,
  type ConnectionInput,
  type AuditRecord,
} from './registry';
export { RegistryApiError, ClientConfigError } from './http';
export { planTransfers, bytesToSend, resolveTarget } from './plan';
export type { UploadView } from '../uploads/wire';
export { statePath } from './state';
