/**
 * `add` prints what the original Package Registry CLI's users know (issue 13 item 5; the messages are
 * collected in the project's DC/OS notes): on a terminal the upload bar is `File Upload progress: [...]`,
 * and once the bytes are sent, `Package uploaded successfully. Please wait while it is being validated..`
 * (on a terminal or not), then `Added packages:` on stdout. Run through the verb itself against the fake
 * registry, with a stand-in stderr that says it is a terminal.
 */
import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { add } from '../../cli/commands';
import { readEnvironment } from '../../cli/env';
import { Progress } from '../../cli/progress';
import { sampleContent, sha, writeSample } from '../bundle/helpers';
import { type FakeRegistry, startFakeRegistry } from './fake-registry';

let reg: FakeRegistry;
let dir: string;
beforeEach(async () => {
  reg = await startFakeRegistry({ partSize: 256, multipartAbove: 300 });
  dir = await mkdtemp(join(tmpdir(), 'add-messages-'));
});
afterEach(async () => {
  await reg.close();
});

async function runAdd(isTTY: boolean) {
  const file = join(dir, `hello-1.0.0-${isTTY}.dcos`);
  await writeSample(file);
  let stderr = '';
  const progress = new Progress({ write: (s: string) => (stderr += s), isTTY, columns: 200 });
  const env = readEnvironment({ DCOS_REGISTRY_URL: reg.url, DCOS_REGISTRY_TOKEN: reg.token });
  const result = await add({ flags: { 'dcos-file': file }, env, progress });
  return { stderr, result };
}

const VALIDATING = 'Package uploaded successfully. Please wait while it is being validated..\n';

describe("add's messages, as the original printed them", () => {
  it('on a terminal: the File Upload progress bar, then the validation line, then Added packages', async () => {
    const { stderr, result } = await runAdd(true);
    expect(stderr).toMatch(/\r\x1b\[2KFile Upload progress: \[[^\]]*\] /);
    expect(stderr).toContain(VALIDATING);
    expect(stderr.indexOf(VALIDATING)).toBeGreaterThan(stderr.lastIndexOf('File Upload progress:'));
    expect(result.text).toEqual(['Added packages:', 'hello 1.0.0']);
  });

  it('elsewhere: no bar, the validation line once', async () => {
    const { stderr } = await runAdd(false);
    expect(stderr).not.toContain('File Upload progress');
    expect(stderr.split(VALIDATING)).toHaveLength(2);
  });

  it('an add that errors out after its upload started says the upload is kept, how to resume it, and how to see where it stands', async () => {
    const file = join(dir, 'hello-1.0.0.dcos');
    await writeSample(file);
    const id = `up${'0'.repeat(24)}`;
    reg.failPut.set(`/put/${id}/${sha(sampleContent().blobs[0])}/3`, { status: 403, times: 100 });
    const progress = new Progress({ write: () => true, isTTY: false });
    const env = readEnvironment({ DCOS_REGISTRY_URL: reg.url, DCOS_REGISTRY_TOKEN: reg.token });
    const err = (await add({ flags: { 'dcos-file': file }, env, progress }).then(
      () => undefined,
      (e: unknown) => e,
    )) as Error;
    expect(err).toBeInstanceOf(Error);
    expect(err.message).toMatch(/upload PUT answered 403/);
    expect(err.message).toMatch(
      new RegExp(
        `upload ${id} is kept: run add again to resume it; \\\`dcos-registry describe --package-name=hello --package-version=1.0.0\\\` shows where it stands`,
      ),
    );
    expect(err.message).not.toContain('\n');
  });
});
