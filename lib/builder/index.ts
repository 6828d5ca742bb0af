export { buildBundle, BuildError, type BuildOptions, type BuildProgress, type BuildResult } from './build';
export { migrateToFile, type MigrateFileOptions, type MigrateFileResult } from './migrate';
export { createDispatcher, type NetworkSettings } from '../net/network';
export { downloadAsset, locateAsset, AssetDownloadError } from './download';
export { assetSources, imageSources, assetName, type AssetSource } from './resources';
export { allowedRoots, openLocalAsset, LocalAssetError } from './local';
export { HttpClient, HttpDownloadError, type HttpClientOptions } from '../net/http';
