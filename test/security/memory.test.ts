/**
 * What an instance holds in memory for others is bounded in bytes, not only in count: the
 * upload sessions it remembers (their text can reach megabytes: a manifest plus thousands of
 * part targets) stay under one byte budget however many big sessions writers open.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { newUploadId, SESSION_MEMORY_BYTES, Sessions, type UploadSession } from '../../lib/uploads/session';
import { fileStore, type TestStore } from '../support/stores';

function bigSession(bytes: number): UploadSession {
  return {
    id: newUploadId(),
    status: 'Uploading',
    name: 'big',
    version: '1.0.0',
    contentDigest: `sha256:${'0'.repeat(64)}`,
    createdAt: new Date(0).toISOString(),
    expiresAt: new Date(0).toISOString(),
    // The padding stands for a big manifest: only the session's size matters here.
    manifest: { padding: 'x'.repeat(bytes) } as unknown as UploadSession['manifest'],
    blobs: [],
  };
}

describe('remembered upload sessions', () => {
  let store: TestStore;
  beforeAll(async () => {
    store = await fileStore();
  });
  afterAll(async () => {
    await store?.cleanup();
  });

  it('stay under the byte budget however many big sessions are opened, and the newest is still remembered', async () => {
    const sessions = new Sessions(store.storage);
    const each = 1024 * 1024;
    for (let i = 0; i < 40; i++) await sessions.create(bigSession(each));
    expect(sessions.rememberedBytes).toBeLessThanOrEqual(SESSION_MEMORY_BYTES);
    expect(sessions.rememberedBytes).toBeGreaterThan(0);
  });

  it('does not remember one session bigger than the budget allows for one entry, and still works with it', async () => {
    const sessions = new Sessions(store.storage);
    const huge = bigSession(SESSION_MEMORY_BYTES);
    await sessions.create(huge);
    expect(sessions.rememberedBytes).toBe(0);
    const updated = await sessions.update(huge.id, (s) => void (s.status = 'Processing'));
    expect(updated.status).toBe('Processing');
    expect(sessions.rememberedBytes).toBe(0);
  });
});
