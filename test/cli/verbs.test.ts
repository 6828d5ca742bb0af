/**
 * The verb table (cli/verbs.ts) is the one description of the CLI: parsing, --help, bash completion
 * and docs/cli.md must all agree with it.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parseCommandLine, UsageError } from '../../cli/args';
import { bashCompletion } from '../../cli/completion';
import { helpText } from '../../cli/help';
import { flagHelp, flagUsage, synopsis, VERB_TABLE, VERBS, verbFlags } from '../../cli/verbs';

const DOCS = readFileSync(join(__dirname, '..', '..', 'docs', 'cli.md'), 'utf8');

/** `### <verb>` sections under `## Verbs`: heading → first non-empty line. */
function docSections(): Map<string, string> {
  const verbsPart = DOCS.slice(DOCS.indexOf('\n## Verbs\n'));
  const end = verbsPart.indexOf('\n## ', 1);
  const sections = new Map<string, string>();
  for (const chunk of (end > 0 ? verbsPart.slice(0, end) : verbsPart).split('\n### ').slice(1)) {
    const [heading, ...rest] = chunk.split('\n');
    sections.set(heading.trim(), rest.find((l) => l.trim() !== '') ?? '');
  }
  return sections;
}

describe('the verb table', () => {
  it('docs/cli.md has one section per verb, opening with the synopsis derived from the table', () => {
    const sections = docSections();
    expect([...sections.keys()].sort()).toEqual([...VERBS].sort());
    for (const verb of VERBS) expect(sections.get(verb)?.startsWith(`\`${synopsis(verb)}\``), verb).toBe(true);
  });

  it('--help of each verb lists exactly its flags with their help and defaults', () => {
    for (const verb of VERBS) {
      const lines = helpText(verb).split('\n');
      expect(lines).toContain(VERB_TABLE[verb].summary);
      const flagLines = lines.filter((l) => l.startsWith('  --'));
      expect(flagLines).toEqual(verbFlags(verb).map(([name, flag]) => `  ${flagUsage(name, flag).padEnd(36)} ${flagHelp(flag)}`));
    }
    expect(helpText('add')).toContain('parallel uploads (default 4)');
    const top = helpText();
    for (const verb of VERBS) expect(top).toContain(`  ${verb.padEnd(9)} ${VERB_TABLE[verb].summary}`);
  });

  it('bash completion offers every verb and, per verb, exactly its flags', () => {
    const script = bashCompletion();
    expect(script).toContain(`local commands="${VERBS.join(' ')}"`);
    for (const verb of VERBS) {
      const line = script.split('\n').find((l) => l.trim().startsWith(`${verb})`));
      const offered = /flags="([^"]*)"/.exec(line ?? '')?.[1].split(' ');
      expect(offered?.sort(), verb).toEqual(
        verbFlags(verb)
          .map(([n, f]) => `--${n}${f.type === 'string' ? '=' : ''}`)
          .sort(),
      );
    }
  });

  it('parsing follows the table: types, repeatable flags, required flags, no positionals, unknown flags refused', () => {
    const parsed = parseCommandLine([
      'registry',
      'build',
      '--build-definition-file=d.json',
      '--output-directory',
      'out',
      '--insecure-registry=a:5000',
      '--insecure-registry=b',
      '--allow-https-downgrade',
      '--json',
    ]);
    expect(parsed).toEqual({
      kind: 'verb',
      verb: 'build',
      json: true,
      flags: {
        'build-definition-file': 'd.json',
        'output-directory': 'out',
        'insecure-registry': ['a:5000', 'b'],
        'allow-https-downgrade': true,
        json: true,
      },
    });
    for (const verb of VERBS) {
      const required = verbFlags(verb).filter(([, f]) => f.required);
      if (required.length === 0) {
        expect(parseCommandLine([verb])).toMatchObject({ kind: 'verb', verb });
        continue;
      }
      expect(() => parseCommandLine([verb]), verb).toThrow(new UsageError(`${verb}: --${required[0][0]} is required`));
    }
    expect(() => parseCommandLine(['list', 'extra'])).toThrow(UsageError);
    expect(() => parseCommandLine(['list', '--bogus'])).toThrow(/list: Unknown option '--bogus'/);
    expect(() => parseCommandLine(['list', '--json=yes'])).toThrow(UsageError);
    expect(() => parseCommandLine(['toString'])).toThrow(/unknown command "toString"/);
    expect(parseCommandLine(['describe', '-h'])).toEqual({ kind: 'help', verb: 'describe' });
    expect(parseCommandLine(['help', 'sync'])).toEqual({ kind: 'help', verb: 'sync' });
  });
});
