export { buildBundle } from './build';
export { migrateToFile } from './migrate';
