export { addBundle, AddFailedError, type AddOptions, type AddProgress } from './add';
export { describePackage, listPackages, removePackage, collectGarbage, type DescribeBody, type ListBody } from './registry';
export { RegistryApiError, ClientConfigError, type ClientOptions } from './http';
export { planTransfers, bytesToSend, UploadPlanError, type TransferTask } from './plan';
export type { UploadView } from '../uploads/wire';
export { statePath, readUploadState } from './state';
