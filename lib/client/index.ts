export { addBundle, AddFailedError, type AddOptions, type AddProgress } from './add';
export { describePackage, listPackages, removePackage, collectGarbage, type DescribeBody, type ListBody } from './registry';
export { RegistryApiError, ClientConfigError, type ClientOptions } from './http';
export { planTransfers, bytesToSend, UploadPlanError, type UploadSession, type TransferTask } from './plan';
export { statePath, readUploadState } from './state';
