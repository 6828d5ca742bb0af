export { addBundle, AddFailedError, type AddOptions, type AddProgress } from './add';
export {
  describePackage,
  listPackages,
  removePackage,
  collectGarbage,
  readAuditLog,
  resolveConnection,
  activateRegistry,
  COSMOS_MEDIA,
  DEFAULT_SERVICE_NAME,
  type Connection,
  type ConnectionInput,
  type DescribeBody,
  type ListBody,
  type AuditBody,
  type AuditRecord,
} from './registry';
export { RegistryApiError, ClientConfigError, clientDispatcher, type ClientOptions, type ConnectionSettings } from './http';
export { planTransfers, bytesToSend, UploadPlanError, type TransferTask } from './plan';
export type { UploadView } from '../uploads/wire';
export { statePath, readUploadState } from './state';
