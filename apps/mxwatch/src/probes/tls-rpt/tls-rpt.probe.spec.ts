import { describe, expect, it } from 'vitest';
import type { PlanView, ProbeEnv } from '../probe-definition.js';
import type { DnsAnswer, DnsErrorKind, DnsRecordType, ProbeContext, ProbeResult, Resolver } from '../probe.types.js';
import { TLS_RPT_FINDINGS } from './tls-rpt.findings.js';
import { tlsRptProbe } from './tls-rpt.probe.js';

class TxtResolver implements Resolver {
  constructor(private readonly answer: string[] | DnsErrorKind) {}
  async resolve<T extends DnsRecordType>(name: string, type: T): Promise<DnsAnswer<T>> {
    if (typeof this.answer === 'string') return { ok: false, type, name, error: this.answer, cause: this.answer } as DnsAnswer<T>;
    if (!this.answer.length) return { ok: false, type, name, error: 'nxdomain', cause: 'NXDOMAIN' } as DnsAnswer<T>;
    return { ok: true, type, name, records: this.answer, ttl: 0 } as unknown as DnsAnswer<T>;
  }
}

const env: ProbeEnv = { shared: (_k, fn) => fn(), exclusive: (_k, fn) => fn() };

function result(probe: string, status: string, details: object): ProbeResult {
  return { probe, target: 'x', status, startedAt: new Date(), durationMs: 0, details, observations: [] } as unknown as ProbeResult;
}

async function run(answer: string[] | DnsErrorKind, others: { mtaSts?: ProbeResult[]; dane?: ProbeResult[] } = {}) {
  const plan: PlanView = {
    domain: { name: 'example.test', submissionHosts: [], sendingIps: [], dkimSelectors: [] },
    results: (name) => (name === 'mta-sts' ? (others.mtaSts ?? []) : name === 'dane' ? (others.dane ?? []) : []),
    once: (_k, fn) => fn(),
  };
  const resolver = new TxtResolver(answer);
  const ctx = { deadline: Date.now() + 5000, signal: new AbortController().signal, resolver, dnsblResolver: resolver, now: () => new Date() } as unknown as ProbeContext;
  const [subject] = await tlsRptProbe.subjects(plan, ctx);
  const r = (await tlsRptProbe.run(ctx, subject!, env))!;
  for (const o of r.observations) {
    const spec = TLS_RPT_FINDINGS[o.code as keyof typeof TLS_RPT_FINDINGS];
    for (const [, name] of `${spec.message} ${spec.remediation}`.matchAll(/\{(\w+)\}/g)) expect(o.params).toHaveProperty(name!);
  }
  return r;
}

describe(tlsRptProbe.name, () => {
  it('should pass a valid record with no finding', async () => {
    const r = await run(['v=TLSRPTv1; rua=mailto:tls@example.test']);
    expect(r).toMatchObject({ probe: 'tls-rpt', status: 'pass', observations: [], details: { state: 'valid', rua: ['mailto:tls@example.test'] } });
  });

  it('should note a missing record as info when neither MTA-STS nor DANE is deployed', async () => {
    const r = await run([], { mtaSts: [result('mta-sts', 'pass', { id: null })] });
    expect(r.observations).toEqual([{ code: 'TLSRPT_MISSING', target: 'example.test', params: { domain: 'example.test', deployed: '' } }]);
    expect(r.status).toBe('pass');
  });

  it('should warn about a missing record when MTA-STS is deployed', async () => {
    const r = await run([], { mtaSts: [result('mta-sts', 'pass', { id: 'abc' })] });
    expect(r.observations[0]).toMatchObject({ code: 'TLSRPT_MISSING', severity: 'warning', params: { deployed: ', although it uses MTA-STS' } });
    expect(r.status).toBe('warn');
  });

  it('should warn about a missing record when DANE is deployed', async () => {
    const r = await run([], { dane: [result('dane', 'pass', { deployed: true }), result('dane', 'pass', { deployed: false })] });
    expect(r.observations[0]).toMatchObject({ code: 'TLSRPT_MISSING', severity: 'warning', params: { deployed: ', although it uses DANE' } });
  });

  it('should report an invalid record as a warning', async () => {
    const r = await run(['v=TLSRPTv1; rua=http://insecure.example.test/']);
    expect(r.observations.map((o) => o.code)).toEqual(['TLSRPT_INVALID']);
    expect(r.status).toBe('warn');
  });

  it('should be untestable when our DNS fails', async () => {
    expect(await run('timeout')).toMatchObject({ status: 'untestable', reason: 'dns_timeout', observations: [] });
  });
});
