export * from './manifest';
export { BlobStaging } from './staging';
export { writeBundle, BundleExistsError } from './writer';
export { openBundle } from './reader';
