import { describe, expect, it } from 'vitest';
import { PROBES, PROBE_NAMES, selectProbes } from './registry.js';

describe('registry', () => {
  it('should register each probe name once, in the public spelling', () => {
    expect(new Set(PROBE_NAMES).size).toBe(PROBE_NAMES.length);
    for (const name of PROBE_NAMES) expect(name).toMatch(/^[a-z][a-z0-9-]*$/);
    expect(PROBE_NAMES).toEqual(expect.arrayContaining(['mx', 'smtp', 'starttls', 'dnsbl', 'spf', 'dmarc', 'dkim', 'ptr', 'bimi', 'mta-sts', 'tls-rpt', 'dnssec', 'dane']));
  });

  it('should name only registered probes as needs', () => {
    for (const p of PROBES) for (const need of p.needs) expect(PROBE_NAMES, `${p.name} needs ${need}`).toContain(need);
  });

  it('should select every probe when none is named', () => {
    expect(selectProbes(PROBES, []).map((p) => p.name)).toEqual(PROBE_NAMES);
  });

  it('should add what the named probes need, transitively, in registry order', () => {
    const names = selectProbes(PROBES, ['starttls']).map((p) => p.name);
    expect(names).toEqual(['mx', 'starttls']);
    const withNeeds = selectProbes(PROBES, ['dnsbl']).map((p) => p.name);
    for (const need of PROBES.find((p) => p.name === 'dnsbl')!.needs) expect(withNeeds).toContain(need);
    expect(withNeeds.indexOf('mx')).toBeLessThan(withNeeds.indexOf('dnsbl'));
  });

  it('should refuse an unknown name, listing the registered ones', () => {
    expect(() => selectProbes(PROBES, ['mx', 'mtasts'])).toThrow(/unknown probe "mtasts" \(registered: mx, /);
  });
});
