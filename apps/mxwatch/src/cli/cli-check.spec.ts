import { describe, expect, it } from 'vitest';
import type { ProbeDefinition } from '../probes/probe-definition.js';
import { selectProbes } from './cli-check.js';

const def = (name: string, needs: string[] = []) => ({ name, needs, scope: 'domain', title: name, findings: {}, subjects: () => [], run: async () => null }) as unknown as ProbeDefinition;
const REGISTRY = [def('mx'), def('smtp', ['mx']), def('starttls', ['smtp']), def('dnsbl', ['mx']), def('spf')];

describe(selectProbes.name, () => {
  it('should take the whole registry when no probe is named', () => {
    expect(selectProbes(REGISTRY, []).map((p) => p.name)).toEqual(['mx', 'smtp', 'starttls', 'dnsbl', 'spf']);
  });

  it('should add what the named probes need, transitively, in registry order', () => {
    expect(selectProbes(REGISTRY, ['starttls']).map((p) => p.name)).toEqual(['mx', 'smtp', 'starttls']);
    expect(selectProbes(REGISTRY, ['spf', 'dnsbl']).map((p) => p.name)).toEqual(['mx', 'dnsbl', 'spf']);
  });

  it('should name unknown probes and the registered ones', () => {
    expect(() => selectProbes(REGISTRY, ['mx', 'nope'])).toThrow('--probes: unknown probe "nope" (registered: mx, smtp, starttls, dnsbl, spf)');
  });
});
