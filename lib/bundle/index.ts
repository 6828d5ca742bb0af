export * from './manifest';
export { BlobStaging, BlobVerificationError, type BlobBody } from './staging';
export { writeBundle, BundleExistsError, type WriteBundleOptions } from './writer';
export { openBundle, type OpenedBundle, type BundleBlobHandle } from './reader';
export { buildOciIndex, REF_NAME_ANNOTATION, type OciIndex } from './oci';
