/**
 * The committed standalone validators (lib/universe/generated) are exactly what the schemas
 * compile to: editing a schema without `npm run gen:schemas` fails here.
 */
import { readFileSync, readdirSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { GENERATED_DIR, ROOT_SCHEMAS, generateValidators } from '../../scripts/compile-schemas';

describe('generated validators', () => {
  const generated = generateValidators();

  it('has a .js and a .d.ts per root schema and nothing else', () => {
    expect([...generated.keys()].sort()).toEqual(ROOT_SCHEMAS.flatMap((s) => [`${s}.d.ts`, `${s}.js`]).sort());
    expect(readdirSync(GENERATED_DIR).sort()).toEqual([...generated.keys()].sort());
  });

  it.each([...generated.keys()])('%s is up to date (run npm run gen:schemas)', (file) => {
    expect(readFileSync(path.join(GENERATED_DIR, file), 'utf8')).toBe(generated.get(file));
  });

  it('is standalone CommonJS: no schema compilation at run time', () => {
    for (const schema of ROOT_SCHEMAS) {
      const code = generated.get(`${schema}.js`)!;
      expect(code).toContain('module.exports = validate');
      const requires = [...code.matchAll(/require\("([^"]+)"\)/g)].map((m) => m[1]);
      expect(requires.every((r) => r === 'ajv/dist/runtime/ucs2length' || r === 'ajv-formats/dist/formats')).toBe(true);
    }
  });
});
