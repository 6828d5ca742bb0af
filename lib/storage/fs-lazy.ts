/**
 * The filesystem driver as the registry's processes build it (issue 14): the same driver
 * (fs.ts), loaded with `await import()` on its first call. A function configured for S3 (every
 * Lambda deployment) thus never loads fs.ts and what it brings (proper-lockfile, graceful-fs,
 * which patches node:fs and loads node:assert): in the function bundles fs.ts is a file of its
 * own (scripts/esbuild-plugins.cjs), read only where the filesystem driver is configured.
 */
import path from 'node:path';
import type { FileStorage, FileStorageOptions } from './fs';
import type { MultipartPart, ObjectInfo, ObjectStream, PutOptions, SignedUrls, SignOptions, Storage, StoredObject } from './port';

export class LazyFileStorage implements Storage {
  readonly kind = 'file';
  readonly root: string;
  /** The registry's /_store route answers this driver's signed URLs, as FileStorage's own. */
  readonly urls: SignedUrls = {
    servedBy: 'registry',
    endpoint: {
      verify: async (request) => (await this.driver()).verifyStoreRequest(request),
      receivePut: async (key, body, limit) => (await this.driver()).receivePut(key, body, limit),
      receivePart: async (key, uploadId, n, body, limit) => (await this.driver()).receivePart(key, uploadId, n, body, limit),
    },
  };
  private loaded: Promise<FileStorage> | undefined;

  constructor(private readonly options: FileStorageOptions) {
    this.root = path.resolve(options.root);
  }

  /** The driver, built on first use (the only place this module loads fs.ts). */
  private driver(): Promise<FileStorage> {
    this.loaded ??= import('./fs').then((m) => new m.FileStorage({ ...this.options, root: this.root }));
    return this.loaded;
  }

  async get(key: string): Promise<StoredObject> {
    return (await this.driver()).get(key);
  }

  async getIfChanged(key: string, etag: string | undefined): Promise<StoredObject | null> {
    return (await this.driver()).getIfChanged(key, etag);
  }

  async getStream(key: string, range?: { start: number; end?: number }): Promise<ObjectStream> {
    return (await this.driver()).getStream(key, range);
  }

  async head(key: string): Promise<ObjectInfo> {
    return (await this.driver()).head(key);
  }

  async put(key: string, body: Buffer | string, options?: PutOptions): Promise<{ etag: string }> {
    return (await this.driver()).put(key, body, options);
  }

  async list(prefix: string, options?: { startAfter?: string; limit?: number }): Promise<ObjectInfo[]> {
    return (await this.driver()).list(prefix, options);
  }

  async delete(key: string): Promise<void> {
    return (await this.driver()).delete(key);
  }

  async copy(source: string, target: string, options?: { ifSourceEtag?: string }): Promise<{ etag: string }> {
    return (await this.driver()).copy(source, target, options);
  }

  async signPut(key: string, options: SignOptions): Promise<string> {
    return (await this.driver()).signPut(key, options);
  }

  async signGet(key: string, options: SignOptions): Promise<string> {
    return (await this.driver()).signGet(key, options);
  }

  async createMultipart(key: string): Promise<string> {
    return (await this.driver()).createMultipart(key);
  }

  async signPart(key: string, uploadId: string, partNumber: number, options: SignOptions): Promise<string> {
    return (await this.driver()).signPart(key, uploadId, partNumber, options);
  }

  async listParts(key: string, uploadId: string): Promise<MultipartPart[]> {
    return (await this.driver()).listParts(key, uploadId);
  }

  async completeMultipart(key: string, uploadId: string, parts: MultipartPart[]): Promise<{ etag: string }> {
    return (await this.driver()).completeMultipart(key, uploadId, parts);
  }

  async abortMultipart(key: string, uploadId: string): Promise<void> {
    return (await this.driver()).abortMultipart(key, uploadId);
  }
}
