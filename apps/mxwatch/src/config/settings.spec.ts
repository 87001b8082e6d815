import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { KNOWN_VARIABLES, SETTINGS } from './settings.js';

const readme = readFileSync(fileURLToPath(new URL('../../../../README.md', import.meta.url)), 'utf8');
const configSection = readme.slice(readme.indexOf('## Configuration'), readme.indexOf('### The YAML file'));
const tableRows = configSection.split('\n').filter((l) => l.startsWith('| `'));

describe('SETTINGS', () => {
  it('should give every variable its own README row with its YAML key', () => {
    for (const row of Object.values(SETTINGS)) {
      const line = tableRows.find((l) => l.split('|')[1]!.includes(`\`${row.env}\``));
      expect(line, `README configuration table row for ${row.env}`).toBeDefined();
      if ('yaml' in row && row.yaml) expect(line!.split('|')[2], `${row.env}: YAML key`).toContain(`\`${row.yaml}\``);
    }
  });

  it('should know every variable the README table documents', () => {
    const documented = tableRows.flatMap((l) => [...l.split('|')[1]!.matchAll(/`([A-Z][A-Z0-9_]+)`/g)].map((m) => m[1]!));
    expect(documented.filter((v) => !KNOWN_VARIABLES.includes(v))).toEqual([]);
  });

  it('should use each variable and each YAML key once', () => {
    const envs = Object.values(SETTINGS).map((r) => r.env);
    const yamls = Object.values(SETTINGS).flatMap((r) => ('yaml' in r && r.yaml ? [r.yaml] : []));
    expect(new Set(envs).size).toBe(envs.length);
    expect(new Set(yamls).size).toBe(yamls.length);
  });
});
