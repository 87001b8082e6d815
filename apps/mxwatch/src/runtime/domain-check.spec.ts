import { describe, expect, it } from 'vitest';
import { AddressPolicy } from '../transport/net/address-policy.js';
import type { DnsAnswer, DnsRecordType, ProbeContext, Resolver } from '../probes/probe.types.js';
import { defineProbe, type ProbeDefinition } from '../probes/probe-definition.js';
import { PROBES } from '../probes/registry.js';
import { planOrder, runDomainCheck } from './domain-check.js';
import { KeyedLimiter, SharedWork } from './shared-work.js';

/** Answers REFUSED for names the predicate picks and NXDOMAIN for the rest. */
function resolver(refuses: (name: string) => boolean): Resolver {
  return {
    resolve: async <T extends DnsRecordType>(name: string, type: T): Promise<DnsAnswer<T>> =>
      refuses(name)
        ? { ok: false, type, name, error: 'refused', cause: 'the resolver refused the query (REFUSED)' }
        : { ok: false, type, name, error: 'nxdomain', cause: `${name} does not exist (NXDOMAIN)` },
  };
}

function ctx(r: Resolver): ProbeContext {
  return {
    deadline: Date.now() + 10_000,
    signal: new AbortController().signal,
    resolver: r,
    dnsblResolver: r,
    dialer: { dial: async () => ({ ok: false, error: 'forbidden', cause: 'unit test' }) },
    addressPolicy: new AddressPolicy(),
    settings: { smtpPorts: [25], certWarnDays: 14, slowBannerMs: 5000, dnsblZones: ['dbl.spamhaus.org'], ehloName: 'probe.test', smtpConnectTimeoutMs: 1000, smtpReplyTimeoutMs: 1000, maxMxHosts: 10, maxAddresses: 32 },
    now: () => new Date(),
  };
}

const DOMAIN = { name: 'example.test', submissionHosts: [], sendingIps: [], dkimSelectors: [] };
const run = (r: Resolver, probes: readonly ProbeDefinition[] = PROBES) =>
  runDomainCheck(ctx(r), DOMAIN, { probes, shared: new SharedWork(), perAddress: new KeyedLimiter(1), maxAgeMs: 0 });

/** A probe that records what it saw and answers one result per subject. */
function fake(name: string, needs: string[], seen: string[], subjects: (results: (p: string) => unknown[]) => string[] = () => [name]) {
  return defineProbe<{ saw: string[] }, string>({
    name,
    scope: 'domain',
    title: name,
    needs,
    subjects: (plan) => subjects((p) => plan.results(p)),
    run: async (c, subject) => {
      seen.push(`${name}:${subject}`);
      return { probe: name, target: subject, status: 'pass', startedAt: c.now(), durationMs: 0, details: { saw: [] }, observations: [] };
    },
    findings: {},
  });
}

describe(runDomainCheck.name, () => {
  it('should not blame the lists when the resolver refuses every query, the domain\'s own MX lookup included', async () => {
    const outcome = await run(resolver(() => true));
    expect(outcome.results.find((r) => r.probe === 'mx')).toMatchObject({ status: 'untestable', reason: 'dns_refused' });
    const dnsbl = outcome.results.filter((r) => r.probe === 'dnsbl');
    expect(dnsbl).toHaveLength(1);
    expect(dnsbl[0]).toMatchObject({ target: 'example.test@dbl.spamhaus.org', status: 'untestable', reason: 'dns_refused', observations: [] });
  });

  it('should keep DNSBL_QUERY_REFUSED when only the list refuses', async () => {
    const outcome = await run(resolver((name) => name.endsWith('.dbl.spamhaus.org')));
    expect(outcome.results.find((r) => r.probe === 'mx')!.status).not.toBe('untestable');
    const [dnsbl] = outcome.results.filter((r) => r.probe === 'dnsbl');
    expect(dnsbl).toMatchObject({ status: 'untestable', reason: 'dnsbl_query_refused' });
    expect(dnsbl!.observations.map((o) => [o.code, o.target])).toEqual([['DNSBL_QUERY_REFUSED', 'dbl.spamhaus.org']]);
  });

  it('should run every probe after the probes it needs, and show a probe only the results of what it needs', async () => {
    const seen: string[] = [];
    const a = fake('a', [], seen);
    const b = fake('b', ['a'], seen, (results) => results('a').map((r) => `from-${(r as { target: string }).target}`));
    const c = fake('c', ['b'], seen, (results) => [`a-visible-${results('a').length}`, `b-visible-${results('b').length}`]);
    // Registered in the wrong order on purpose: the planner orders them.
    const outcome = await run(resolver(() => false), [c, b, a]);
    expect(seen).toEqual(['a:a', 'b:from-a', 'c:a-visible-0', 'c:b-visible-1']);
    expect(outcome.results.map((r) => `${r.probe}:${r.target}`)).toEqual(['c:a-visible-0', 'c:b-visible-1', 'b:from-a', 'a:a']);
  });

  it('should ignore a need on a probe that is not registered, and refuse probes that need each other', async () => {
    const seen: string[] = [];
    await run(resolver(() => false), [fake('lonely', ['not-registered'], seen)]);
    expect(seen).toEqual(['lonely:lonely']);
    expect(() => planOrder([fake('x', ['y'], []), fake('y', ['x'], [])])).toThrow(/need each other/);
  });

  it('should probe each (address, port) once however many MX hosts and records point at it, and cap the addresses', async () => {
    const records = (name: string): string[] => {
      if (name === 'big.test') return [];
      // 4,000 A records over 28 distinct addresses, as a hostile zone once answered.
      return Array.from({ length: 4000 }, (_, i) => `93.184.216.${(i % 28) + 1}`);
    };
    const r: Resolver = {
      resolve: async <T extends DnsRecordType>(name: string, type: T): Promise<DnsAnswer<T>> => {
        if (type === 'MX' && name === 'big.test') return { ok: true, type, name, ttl: 60, records: Array.from({ length: 50 }, (_, i) => ({ exchange: `mx${i}.big.test`, priority: i })) as never };
        if (type === 'A' && name.startsWith('mx')) return { ok: true, type, name, ttl: 60, records: records(name) as never };
        return { ok: false, type, name, error: 'nodata', cause: 'no data' };
      },
    };
    const c = ctx(r);
    c.settings = { ...c.settings, maxMxHosts: 3, maxAddresses: 5, dnsblZones: [] };
    let dials = 0;
    c.dialer = { dial: async () => (dials++, { ok: false, error: 'refused', cause: 'unit test' }) };
    const policy = new AddressPolicy();
    c.addressPolicy = policy;
    const outcome = await runDomainCheck(c, { ...DOMAIN, name: 'big.test' }, { probes: PROBES, shared: new SharedWork(), perAddress: new KeyedLimiter(1), maxAgeMs: 0 });
    const mx = outcome.results.find((r2) => r2.probe === 'mx')!;
    expect(mx.observations.map((o) => o.code)).toContain('MX_TOO_MANY_TARGETS');
    const smtp = outcome.results.filter((r2) => r2.probe === 'smtp');
    expect(new Set(smtp.map((r2) => (r2.details as { ip: string }).ip)).size).toBe(5);
    expect(smtp).toHaveLength(5);
    expect(dials).toBe(5);
  });
});
