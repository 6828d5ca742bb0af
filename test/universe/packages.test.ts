/**
 * Universe package directories turned into build definitions and repo entries pass our schemas,
 * and our output passes the OFFICIAL repo schemas too (so Cosmos will read what we serve).
 * The project's fixtures (test/fixtures/universe) always; the real Universe packages and the
 * official schemas when UNIVERSE_REFERENCE_DIR names them (test/support/reference.ts).
 */
import { describe, expect, it } from 'vitest';
import { migratePackageDirectory, readPackageDirectory } from '../../lib/universe/package-dir';
import type { BuildDefinition, PackageEntry } from '../../lib/universe/types';
import { validateBuildDefinition, validatePackage } from '../../lib/universe/validate';
import { onPackageSets } from '../support/package-sets';
import {
  officialRepoValidators,
  type PackageDir,
  packageDirectories,
  REFERENCE_DIR,
  REFERENCE_TITLE,
  referencePackageDirectories,
} from '../support/reference';

const isCurrent = (d: PackageDir) => d.packagingVersion === '4.0' || d.packagingVersion === '5.0';
const isLegacy = (d: PackageDir) => d.packagingVersion === '2.0' || d.packagingVersion === '3.0';

function asEntry(definition: BuildDefinition, releaseVersion: number): PackageEntry {
  return { ...definition, releaseVersion };
}

/** The same assertions on any set of package directories (fixtures, or the reference packages). */
function conversionTests(dirs: PackageDir[], minimumCurrent: number) {
  const current = dirs.filter(isCurrent);
  const legacy = dirs.filter(isLegacy);

  it('cover 4.0, 5.0 and the legacy versions', () => {
    expect(new Set(dirs.map((d) => d.packagingVersion))).toEqual(new Set(['2.0', '3.0', '4.0', '5.0']));
    expect(current.length).toBeGreaterThanOrEqual(minimumCurrent);
  });

  it.each(current.map((d) => [`${d.name}/${d.revision}`, d] as const))(
    '%s converts to a valid build definition and repo entry',
    async (_, d) => {
      const definition = await readPackageDirectory(d.dir);
      expect(definition.name).toBe(d.name);
      expect(definition.packagingVersion).toBe(d.packagingVersion);
      expect(definition).not.toHaveProperty('selected');
      expect(definition).not.toHaveProperty('releaseVersion');
      expect(validateBuildDefinition(definition)).toEqual({ ok: true, definition });
      const entry = asEntry(definition, d.revision);
      expect(validatePackage(entry)).toEqual({ ok: true, entry });
      // selected is allowed in a repo entry
      expect(validatePackage({ ...entry, selected: true }).ok).toBe(true);
    },
  );

  it.each(legacy.map((d) => [`${d.name}/${d.revision} (${d.packagingVersion})`, d] as const))(
    '%s is refused without --upgrade and valid after it',
    async (_, d) => {
      await expect(readPackageDirectory(d.dir)).rejects.toThrow(`packagingVersion ${d.packagingVersion} is not supported`);
      const { definition, changes } = await migratePackageDirectory(d.dir, { upgrade: true });
      expect(definition.packagingVersion).toBe('4.0');
      expect(changes[0]).toContain('"4.0"');
      expect(validatePackage(asEntry(definition, d.revision)).ok).toBe(true);
    },
  );
}

async function entries(dirs: PackageDir[], upgrade = false): Promise<PackageEntry[]> {
  const out: PackageEntry[] = [];
  for (const d of dirs) out.push(asEntry((await migratePackageDirectory(d.dir, { upgrade })).definition, d.revision));
  return out;
}

onPackageSets(
  {
    fixtures: 'Universe package fixtures (test/fixtures/universe)',
    reference: 'real Universe package directories',
    skipped: 'test/universe/packages.test.ts (real package directories, official repo schemas)',
    minimum: { fixtures: 4, reference: 5 },
  },
  conversionTests,
);

describe.skipIf(!REFERENCE_DIR)(`${REFERENCE_TITLE}: the official Universe repo schemas accept what we serve`, () => {
  // Our fixtures and, alongside them, the real packages.
  const dirs = REFERENCE_DIR ? [...packageDirectories(), ...referencePackageDirectories()] : [];
  const current = dirs.filter(isCurrent);
  const legacy = dirs.filter(isLegacy);
  const official = () => officialRepoValidators();

  it('the official v5 repo schema accepts a repo of all our 4.0 and 5.0 entries', async () => {
    const { v5 } = await official();
    const packages = await entries(current);
    expect(packages.some((p) => p.packagingVersion === '5.0')).toBe(true);
    const ok = v5({ packages });
    expect(v5.errors ?? []).toEqual([]);
    expect(ok).toBe(true);
  });

  it('the official v4 repo schema accepts a repo of our 4.0 entries (and upgraded 2.0/3.0 ones)', async () => {
    const { v4 } = await official();
    const packages = [...(await entries(current.filter((d) => d.packagingVersion === '4.0'))), ...(await entries(legacy, true))];
    expect(packages.length).toBeGreaterThanOrEqual(10);
    const ok = v4({ packages });
    expect(v4.errors ?? []).toEqual([]);
    expect(ok).toBe(true);
  });

  it('the official v4 repo schema rejects a 5.0 entry, as ours does for a v4 answer', async () => {
    const { v4 } = await official();
    const v5 = (await entries(current)).find((p) => p.packagingVersion === '5.0')!;
    expect(v4({ packages: [v5] })).toBe(false);
  });

  // Mutations that both must reject: our schema is not looser than the official one on these.
  const mutations: Array<[string, (e: Record<string, unknown>) => void]> = [
    ['bad name', (e) => void (e.name = 'Bad_Name')],
    ['name ending in a hyphen', (e) => void (e.name = 'abc-')],
    ['version with a slash', (e) => void (e.version = '1.0/2')],
    ['missing maintainer', (e) => void delete e.maintainer],
    ['missing tags', (e) => void delete e.tags],
    ['tags not an array', (e) => void (e.tags = 'a,b')],
    ['tag with a space', (e) => void (e.tags = ['a b'])],
    ['framework as a string', (e) => void (e.framework = 'true')],
    ['negative releaseVersion', (e) => void (e.releaseVersion = -1)],
    ['fractional releaseVersion', (e) => void (e.releaseVersion = 1.5)],
    ['unknown top-level field', (e) => void (e.command = { pip: [] })],
    ['template not base64', (e) => void (e.marathon = { v2AppMustacheTemplate: '{"id": 1}' })],
    ['bad minDcosReleaseVersion', (e) => void (e.minDcosReleaseVersion = '1.x')],
    ['license url not http(s)', (e) => void (e.licenses = [{ name: 'MIT', url: 'ftp://example.com/l' }])],
    ['unknown resource section', (e) => void (e.resource = { assets: {}, extra: {} })],
    [
      'cli binary without contentHash',
      (e) => void (e.resource = { cli: { binaries: { linux: { 'x86-64': { kind: 'executable', url: 'https://h/x' } } } } }),
    ],
    [
      'cli hash algo md5',
      (e) =>
        void (e.resource = {
          cli: {
            binaries: { linux: { 'x86-64': { kind: 'zip', url: 'https://h/x', contentHash: [{ algo: 'md5', value: 'a'.repeat(64) }] } } },
          },
        }),
    ],
  ];

  it.each(mutations)('both reject: %s', async (_, mutate) => {
    const { v5 } = await official();
    // The fixture with every resource section (assets, container images, icons, CLI binaries).
    const base = (await entries(current)).find((p) => p.name === 'greeter' && p.packagingVersion === '4.0')!;
    const entry = structuredClone(base) as unknown as Record<string, unknown>;
    expect(v5({ packages: [entry] })).toBe(true);
    mutate(entry);
    expect(v5({ packages: [entry] })).toBe(false);
    const ours = validatePackage(entry);
    expect(ours.ok).toBe(false);
  });
});
