import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const root = fileURLToPath(new URL('../../', import.meta.url));
// semver is in every npm tree (a dependency of many packages here); this test only reads with it.
const semver = createRequire(import.meta.url)('semver') as { satisfies(v: string, range: string): boolean; minVersion(range: string): { version: string } | null };

interface Lock { packages: Record<string, { version?: string; engines?: { node?: string } }> }

describe('Node engines', () => {
  const pkg = JSON.parse(readFileSync(path.join(root, 'package.json'), 'utf8')) as { engines: { node: string } };
  const lock = JSON.parse(readFileSync(path.join(root, 'package-lock.json'), 'utf8')) as Lock;
  const oldest = semver.minVersion(pkg.engines.node)!.version;

  it('should have no locked package that refuses the oldest Node the project supports, but the one the README explains', () => {
    const refusing = Object.entries(lock.packages)
      .filter(([name, p]) => name !== '' && p.engines?.node && !semver.satisfies(oldest, p.engines.node))
      .map(([name, p]) => `${name.replace(/^.*node_modules\//, '')}@${p.version} (${p.engines!.node})`);
    // @prisma/streams-local serves only `prisma dev`, which mxwatch never runs, and every published version wants Node 22.
    expect(refusing.map((r) => r.split('@').slice(0, -1).join('@'))).toEqual(['@prisma/streams-local']);
    const readme = readFileSync(path.join(root, 'README.md'), 'utf8');
    expect(readme).toContain('`@prisma/streams-local`');
    expect(readme).toMatch(/EBADENGINE/);
  });
});
