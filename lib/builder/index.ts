export { buildBundle, type BuildProgress } from './build';
export { migrateToFile } from './migrate';
