import { describe, expect, it } from 'vitest';
import { AddressPolicy } from '../transport/net/address-policy.js';
import type { DnsAnswer, DnsRecordType, ProbeContext, Resolver } from '../probes/probe.types.js';
import { runDomainCheck } from './domain-check.js';
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
    dialer: { dial: async () => ({ ok: false, error: 'forbidden', cause: 'unit test' }) },
    addressPolicy: new AddressPolicy(),
    settings: { smtpPorts: [25], certWarnDays: 14, slowBannerMs: 5000, dnsblZones: ['dbl.spamhaus.org'], ehloName: 'probe.test', smtpConnectTimeoutMs: 1000, smtpReplyTimeoutMs: 1000 },
    now: () => new Date(),
  };
}

const run = (r: Resolver) =>
  runDomainCheck(ctx(r), { name: 'example.test', submissionHosts: [], sendingIps: [] }, { shared: new SharedWork(), perAddress: new KeyedLimiter(1), maxAgeMs: 0 });

describe(runDomainCheck.name, () => {
  it('should not blame the lists when the resolver refuses every query, the domain\'s own MX lookup included', async () => {
    const outcome = await run(resolver(() => true));
    expect(outcome.mx).toMatchObject({ status: 'untestable', reason: 'dns_refused' });
    const dnsbl = outcome.results.filter((r) => r.probe === 'dnsbl');
    expect(dnsbl).toHaveLength(1);
    expect(dnsbl[0]).toMatchObject({ target: 'example.test@dbl.spamhaus.org', status: 'untestable', reason: 'dns_refused', observations: [] });
  });

  it('should keep DNSBL_QUERY_REFUSED when only the list refuses', async () => {
    const outcome = await run(resolver((name) => name.endsWith('.dbl.spamhaus.org')));
    expect(outcome.mx.status).not.toBe('untestable');
    const [dnsbl] = outcome.results.filter((r) => r.probe === 'dnsbl');
    expect(dnsbl).toMatchObject({ status: 'untestable', reason: 'dnsbl_query_refused' });
    expect(dnsbl!.observations.map((o) => [o.code, o.target])).toEqual([['DNSBL_QUERY_REFUSED', 'dbl.spamhaus.org']]);
  });
});
