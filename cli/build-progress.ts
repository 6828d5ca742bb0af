/**
 * Build's progress as the CLI prints it (build, mirror): milestone lines (`Fetching <url>`,
 * `Downloaded`, `Pulled`, `Retrying`) and one running count of the bytes downloaded. One printer,
 * so every verb that builds bundles reads the same.
 */
import type { BuildProgress } from '../lib/builder/build';

export interface ProgressSink {
  line(text: string): void;
  bar(label: string, done: number, total?: number): void;
}

const UNITS = ['B', 'KB', 'MB', 'GB', 'TB'];
export function formatBytes(n: number): string {
  let v = n;
  let u = 0;
  while (v >= 1000 && u < UNITS.length - 1) {
    v /= 1000;
    u++;
  }
  return `${u === 0 ? v : v.toFixed(1)} ${UNITS[u]}`;
}

export function buildProgressPrinter(progress: ProgressSink): (e: BuildProgress) => void {
  const transferred = new Map<string, number>();
  let sum = 0;
  const track = (key: string, n: number) => {
    sum += n - (transferred.get(key) ?? 0);
    transferred.set(key, n);
    progress.bar('Downloading', sum);
  };
  return (e) => {
    switch (e.kind) {
      case 'asset-start':
        return progress.line(`Fetching ${e.uri}`);
      case 'image-start':
        return progress.line(`Fetching ${e.reference}`);
      case 'asset':
        return track(e.uri, e.transferred);
      case 'asset-done':
        return progress.line(`Downloaded ${e.uri} (${formatBytes(e.size)})`);
      case 'image':
        if (e.event.kind === 'blob') track(e.event.digest, e.event.transferred);
        if (e.event.kind === 'retry') progress.line(`Retrying ${e.reference} (attempt ${e.event.attempt}): ${e.event.error}`);
        return;
      case 'image-done':
        return progress.line(`Pulled ${e.reference} (${e.manifestDigest})`);
      case 'retry':
        return progress.line(`Retrying ${e.what} (attempt ${e.attempt}): ${e.error}`);
      case 'write':
        return progress.bar('Writing bundle', e.written, e.total);
    }
  };
}
