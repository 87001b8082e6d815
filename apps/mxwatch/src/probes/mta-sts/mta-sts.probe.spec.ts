import net from 'node:net';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { FakePolicyServer } from '../../../../../test/rig/https/fake-policy-server.js';
import { createTestCa, type TestCa } from '../../../../../test/rig/tls/test-ca.js';
import { AddressPolicy } from '../../transport/net/address-policy.js';
import { NetDialer } from '../../transport/net/net-dialer.js';
import { NodeTlsUpgrader } from '../../transport/net/tls-upgrader.js';
import type { PlanView, ProbeEnv } from '../probe-definition.js';
import type { DnsAnswer, DnsErrorKind, DnsRecordType, ProbeContext, ProbeResult, Resolver } from '../probe.types.js';
import { MTA_STS_FINDINGS } from './mta-sts.findings.js';
import { createMtaStsProbe, type MtaStsDetails } from './mta-sts.probe.js';
import { BoundedMemory, type ProbeMemory } from '../probe-memory.js';

type Zone = Map<string, Partial<Record<DnsRecordType, string[]>> | DnsErrorKind>;

/** Resolver stub: name -> records per type, or a DNS error for the whole name. */
class ZoneResolver implements Resolver {
  constructor(readonly zone: Zone) {}
  async resolve<T extends DnsRecordType>(name: string, type: T): Promise<DnsAnswer<T>> {
    const entry = this.zone.get(name.toLowerCase());
    if (entry === undefined) return { ok: false, type, name, error: 'nxdomain', cause: 'NXDOMAIN' } as DnsAnswer<T>;
    if (typeof entry === 'string') return { ok: false, type, name, error: entry, cause: entry } as DnsAnswer<T>;
    const records = entry[type];
    if (!records?.length) return { ok: false, type, name, error: 'nodata', cause: 'NODATA' } as DnsAnswer<T>;
    return { ok: true, type, name, records, ttl: 0 } as unknown as DnsAnswer<T>;
  }
}

const env: ProbeEnv = { shared: (_k, fn) => fn(), exclusive: (_k, fn) => fn() };

const ENFORCE = (mx: string[], maxAge = 604800) => `version: STSv1\nmode: enforce\n${mx.map((m) => `mx: ${m}\n`).join('')}max_age: ${maxAge}\n`;
const TESTING = (mx: string[], maxAge = 604800) => ENFORCE(mx, maxAge).replace('enforce', 'testing');

interface TlsFact { host: string; ip: string; status?: string; offered?: boolean; handshakeOk?: boolean; notAfter?: string; trusted?: boolean; nameMatch?: boolean; authorizationError?: string | null }

describe(createMtaStsProbe.name, () => {
  let ca: TestCa;
  let web: FakePolicyServer;
  let ip: string;
  let zone: Zone;
  let clock: number;
  let memory: BoundedMemory;
  let mxHosts: string[];
  let tlsFacts: TlsFact[];
  let mxStatus: string;
  const policy = AddressPolicy.fromList('127.0.0.0/8');

  const probe = () => createMtaStsProbe({ tlsUpgrader: new NodeTlsUpgrader({ ca: ca.cert }), memory });
  let def = null as unknown as ReturnType<typeof createMtaStsProbe>;

  function ctx(extra: Partial<ProbeContext> & { memory?: ProbeMemory } = {}): ProbeContext {
    const resolver = new ZoneResolver(zone);
    return {
      deadline: Date.now() + 30_000,
      signal: new AbortController().signal,
      resolver,
      dnsblResolver: resolver,
      dialer: new NetDialer({ policy, portMap: new Map([[443, web.port]]) }),
      addressPolicy: policy,
      settings: { smtpPorts: [25], certWarnDays: 14, slowBannerMs: 5000, dnsblZones: [], ehloName: 'probe.test', smtpConnectTimeoutMs: 1000, smtpReplyTimeoutMs: 1000, maxMxHosts: 10, maxAddresses: 20 },
      now: () => new Date(clock),
      ...extra,
    } as unknown as ProbeContext;
  }

  function plan(domain: string): PlanView {
    return {
      domain: { name: domain, submissionHosts: [], sendingIps: [], dkimSelectors: [] },
      results: (name) => {
        if (name === 'mx') return [{ probe: 'mx', target: domain, status: mxStatus, startedAt: new Date(), durationMs: 0, details: { hosts: mxHosts.map((host) => ({ host, addresses: [] })) }, observations: [] } as unknown as ProbeResult];
        if (name === 'starttls') {
          return tlsFacts.map((t) => ({
            probe: 'starttls', target: `${t.host}[${t.ip}]:25`, status: t.status ?? 'pass', startedAt: new Date(), durationMs: 0, observations: [],
            details: { host: t.host, ip: t.ip, port: 25, offered: t.offered ?? true, handshakeOk: t.handshakeOk ?? true, cert: { notAfter: t.notAfter ?? new Date(Date.now() + 90 * 86_400_000).toISOString() }, trusted: t.trusted ?? true, nameMatch: t.nameMatch ?? true, authorizationError: t.authorizationError ?? null },
          } as unknown as ProbeResult));
        }
        return [];
      },
      once: (_k, fn) => fn(),
    };
  }

  async function run(domain: string, extra: Partial<ProbeContext> & { memory?: ProbeMemory } = {}): Promise<ProbeResult<MtaStsDetails>> {
    const c = ctx(extra);
    const [subject] = await def.subjects(plan(domain), c);
    const result = (await def.run(c, subject!, env))!;
    for (const o of result.observations) {
      const spec = MTA_STS_FINDINGS[o.code as keyof typeof MTA_STS_FINDINGS];
      expect(spec, o.code).toBeDefined();
      for (const text of [spec.message, spec.remediation]) {
        for (const [, name] of text.matchAll(/\{(\w+)\}/g)) expect(o.params, `${o.code} {${name}}`).toHaveProperty(name!);
      }
    }
    return result;
  }
  const codes = (r: ProbeResult) => r.observations.map((o) => `${o.code}@${o.target}`).sort();

  /** Publishes a domain: TXT id, the policy host's address and its site. */
  async function publish(domain: string, options: { id?: string; body?: string; behaviour?: Parameters<FakePolicyServer['setSite']>[1]['behaviour']; hostIp?: string } = {}) {
    zone.set(`_mta-sts.${domain}`, { TXT: [`v=STSv1; id=${options.id ?? 'id1'}`] });
    zone.set(`mta-sts.${domain}`, { A: [options.hostIp ?? ip] });
    await web.setSite(`mta-sts.${domain}`, { behaviour: options.behaviour ?? 'good', body: options.body ?? ENFORCE(mxHosts) });
  }

  beforeAll(async () => {
    ca = await createTestCa({ commonName: 'mxwatch mta-sts test CA', keyType: 'ec' });
    ip = `127.${20 + Math.floor(Math.random() * 200)}.${Math.floor(Math.random() * 250)}.9`;
    web = await FakePolicyServer.start({ ca, ip });
  });

  afterAll(async () => {
    await web.close();
  });

  beforeEach(() => {
    zone = new Map();
    clock = Date.now();
    memory = new BoundedMemory();
    def = probe();
    mxHosts = ['mx1.ok.test'];
    tlsFacts = [{ host: 'mx1.ok.test', ip: '192.0.2.10' }];
    mxStatus = 'pass';
    web.requests.length = 0;
  });

  it('should find nothing wrong with a healthy enforcing domain and report its mode', async () => {
    await publish('healthy.test');
    const r = await run('healthy.test');
    expect(r).toMatchObject({ probe: 'mta-sts', target: 'healthy.test', status: 'pass', observations: [] });
    expect(r.details).toMatchObject({ state: 'enforce', id: 'id1', policy: { mode: 'enforce', maxAge: 604800, mx: ['mx1.ok.test'] }, uncovered: [] });
    expect(r.details.policyHash).toMatch(/^[0-9a-f]{64}$/);
    expect(def.metrics!.series!(r, 'healthy.test')).toEqual([{ metric: 'mxwatch_mtasts_mode_info', labels: { domain: 'healthy.test', mode: 'enforce' }, value: 1 }]);
    expect(web.requests[0]).toMatchObject({ sni: 'mta-sts.healthy.test', host: 'mta-sts.healthy.test', path: '/.well-known/mta-sts.txt' });
  });

  it('should report a domain without the record as MTASTS_MISSING (info) only', async () => {
    const r = await run('none.test');
    expect(codes(r)).toEqual(['MTASTS_MISSING@none.test']);
    expect(r.status).toBe('pass');
    expect(def.metrics!.series!(r, 'none.test')).toEqual([{ metric: 'mxwatch_mtasts_mode_info', labels: { domain: 'none.test', mode: 'missing' }, value: 1 }]);
  });

  it('should report an invalid record and fetch nothing', async () => {
    zone.set('_mta-sts.badtxt.test', { TXT: ['v=STSv1; id=not-valid!'] });
    const r = await run('badtxt.test');
    expect(codes(r)).toEqual(['MTASTS_TXT_INVALID@badtxt.test']);
    expect(r.status).toBe('fail');
    expect(web.requests).toHaveLength(0);
  });

  it('should be untestable when our DNS cannot answer for the record', async () => {
    zone.set('_mta-sts.servfail.test', 'servfail');
    const r = await run('servfail.test');
    expect(r).toMatchObject({ status: 'untestable', reason: 'dns_servfail', observations: [] });
    expect(def.metrics!.series!(r, 'servfail.test')).toBe('keep');
  });

  it.each([
    ['expired', 'certificate'],
    ['wrong-name', 'certificate'],
    ['self-signed', 'certificate'],
    ['redirect', 'redirect'],
    ['not-found', 'status'],
    ['oversized', 'size'],
  ] as const)('should report a %s policy host as unreachable naming the cause %s', async (behaviour, kind) => {
    const domain = `${behaviour}.test`;
    await publish(domain, { behaviour });
    const r = await run(domain);
    expect(codes(r)).toEqual([`MTASTS_POLICY_UNREACHABLE@${domain}`]);
    expect(r.status).toBe('fail');
    expect(r.observations[0]!.params.kind).toBe(kind);
    expect(r.details.state).toBe('unreachable');
  });

  it('should report a policy host that does not resolve as unreachable (dns)', async () => {
    zone.set('_mta-sts.nohost.test', { TXT: ['v=STSv1; id=1'] });
    const r = await run('nohost.test');
    expect(codes(r)).toEqual(['MTASTS_POLICY_UNREACHABLE@nohost.test']);
    expect(r.observations[0]!.params).toMatchObject({ kind: 'dns', cause: 'DNS: the policy host does not resolve' });
  });

  it('should refuse a policy host on a refused address, report it, and send no packet', async () => {
    await publish('private.test', { hostIp: '10.20.30.40' });
    const before = web.handshakes;
    const r = await run('private.test');
    expect(codes(r)).toEqual(['MTASTS_POLICY_UNREACHABLE@private.test']);
    expect(r.observations[0]!.params.kind).toBe('forbidden');
    expect(r.details.fetch).toMatchObject({ error: 'forbidden', refused: [{ ip: '10.20.30.40', range: 'private' }], ip: null });
    expect(web.handshakes).toBe(before);
  });

  it('should be untestable when our DNS fails for the policy host', async () => {
    zone.set('_mta-sts.hostfail.test', { TXT: ['v=STSv1; id=1'] });
    zone.set('mta-sts.hostfail.test', 'timeout');
    const r = await run('hostfail.test');
    expect(r).toMatchObject({ status: 'untestable', reason: 'policy_dns_timeout', observations: [] });
  });

  it('should warn about a content type other than text/plain and still read the policy', async () => {
    await publish('html.test', { behaviour: 'wrong-content-type' });
    const r = await run('html.test');
    expect(codes(r)).toEqual(['MTASTS_CONTENT_TYPE@html.test']);
    expect(r.status).toBe('warn');
    expect(r.details.state).toBe('enforce');
  });

  it('should report an invalid policy', async () => {
    await publish('badpolicy.test', { body: 'version: STSv1\nmode: enforce\nmax_age: 86400\n' });
    const r = await run('badpolicy.test');
    expect(codes(r)).toEqual(['MTASTS_POLICY_INVALID@badpolicy.test']);
    expect(r.observations[0]!.params.problems).toMatch(/at least one "mx"/);
  });

  it('should flag an uncovered MX as critical in enforce mode, with the exact one-label wildcard rule', async () => {
    mxHosts = ['mx1.ok.test', 'a.b.ok.test', 'ok.test'];
    tlsFacts = [];
    await publish('cover.test', { body: ENFORCE(['*.ok.test']) });
    const r = await run('cover.test');
    expect(codes(r)).toEqual(['MTASTS_MX_NOT_COVERED@a.b.ok.test', 'MTASTS_MX_NOT_COVERED@ok.test']);
    expect(r.observations.map((o) => o.severity)).toEqual(['critical', 'critical']);
    expect(r.status).toBe('fail');
  });

  it('should flag an uncovered MX as a warning in testing mode, beside MTASTS_TESTING', async () => {
    mxHosts = ['mx1.ok.test', 'mx2.ok.test'];
    await publish('testing.test', { body: TESTING(['mx1.ok.test']) });
    const r = await run('testing.test');
    expect(codes(r)).toEqual(['MTASTS_MX_NOT_COVERED@mx2.ok.test', 'MTASTS_TESTING@testing.test']);
    expect(r.observations.find((o) => o.code === 'MTASTS_MX_NOT_COVERED')!.severity).toBe('warning');
    expect(r.status).toBe('warn');
  });

  it('should not judge coverage when the mx result was untestable', async () => {
    mxStatus = 'untestable';
    mxHosts = ['other.test'];
    await publish('mxunknown.test', { body: ENFORCE(['mx1.ok.test']) });
    const r = await run('mxunknown.test');
    expect(codes(r)).toEqual([]);
    expect(r.details.mxKnown).toBe(false);
    expect(def.covers!({ probe: 'mta-sts', code: 'MTASTS_MX_NOT_COVERED', target: 'other.test', evidence: null }, [r])).toBe(false);
  });

  it('should flag MX certificates that enforcing senders refuse, from the starttls facts', async () => {
    mxHosts = ['mx1.ok.test', 'mx2.ok.test', 'mx3.ok.test', 'mx4.ok.test'];
    tlsFacts = [
      { host: 'mx1.ok.test', ip: '192.0.2.1' },
      { host: 'mx2.ok.test', ip: '192.0.2.2', notAfter: new Date(clock - 86_400_000).toISOString(), authorizationError: 'CERT_HAS_EXPIRED' },
      { host: 'mx3.ok.test', ip: '192.0.2.3', trusted: false, nameMatch: false, authorizationError: 'DEPTH_ZERO_SELF_SIGNED_CERT' },
      { host: 'mx4.ok.test', ip: '192.0.2.4', offered: false, handshakeOk: false },
      { host: 'mx4.ok.test', ip: '192.0.2.5', status: 'untestable', offered: false, handshakeOk: false },
    ];
    await publish('certs.test', { body: ENFORCE(['*.ok.test']) });
    const r = await run('certs.test');
    expect(codes(r)).toEqual(['MTASTS_MX_CERT_INVALID@mx2.ok.test[192.0.2.2]:25', 'MTASTS_MX_CERT_INVALID@mx3.ok.test[192.0.2.3]:25', 'MTASTS_MX_CERT_INVALID@mx4.ok.test[192.0.2.4]:25']);
    const params = Object.fromEntries(r.observations.map((o) => [o.params.mx, o.params.problems]));
    expect(params['mx2.ok.test']).toMatch(/^certificate expired on /);
    expect(params['mx3.ok.test']).toBe('certificate not trusted (DEPTH_ZERO_SELF_SIGNED_CERT); certificate does not name mx3.ok.test');
    expect(params['mx4.ok.test']).toBe('STARTTLS not offered');
    expect(def.covers!({ probe: 'mta-sts', code: 'MTASTS_MX_CERT_INVALID', target: 'mx4.ok.test[192.0.2.5]:25', evidence: null }, [r])).toBe(false);
    expect(def.covers!({ probe: 'mta-sts', code: 'MTASTS_MX_CERT_INVALID', target: 'mx1.ok.test[192.0.2.1]:25', evidence: null }, [r])).toBe(true);
  });

  it('should not raise certificate findings while the policy only tests', async () => {
    tlsFacts = [{ host: 'mx1.ok.test', ip: '192.0.2.2', trusted: false }];
    await publish('certtesting.test', { body: TESTING(['mx1.ok.test']) });
    const r = await run('certtesting.test');
    expect(codes(r)).toEqual(['MTASTS_TESTING@certtesting.test']);
  });

  it('should note a max_age under one day', async () => {
    await publish('short.test', { body: ENFORCE(['mx1.ok.test'], 3600) });
    expect(codes(await run('short.test'))).toEqual(['MTASTS_MAX_AGE_SHORT@short.test']);
  });

  it('should warn when the policy changes but the id does not, until the old policy expires', async () => {
    await publish('stale.test', { id: 'v1', body: ENFORCE(['mx1.ok.test'], 86400) });
    expect(codes(await run('stale.test'))).toEqual([]);
    web.setBody('mta-sts.stale.test', ENFORCE(['mx1.ok.test', 'mx9.ok.test'], 86400));
    clock += 60_000;
    const r = await run('stale.test');
    expect(codes(r)).toEqual(['MTASTS_ID_STALE@stale.test']);
    expect(r.observations[0]!.params).toMatchObject({ id: 'v1', change: 'mx added mx9.ok.test' });
    clock += 2 * 86_400_000;
    expect(codes(await run('stale.test'))).toEqual([]);
  });

  it('should not call a policy stale when its id changed with it', async () => {
    await publish('fresh.test', { id: 'v1' });
    await run('fresh.test');
    await publish('fresh.test', { id: 'v2', body: TESTING(['mx1.ok.test']) });
    expect(codes(await run('fresh.test'))).toEqual(['MTASTS_TESTING@fresh.test']);
  });

  it('should flag a new MX not covered by an enforcing policy senders may still hold', async () => {
    mxHosts = ['mx1.ok.test'];
    await publish('move.test', { id: 'v1', body: ENFORCE(['mx1.ok.test'], 86400) });
    await run('move.test');
    mxHosts = ['mx2.ok.test'];
    await publish('move.test', { id: 'v2', body: ENFORCE(['mx2.ok.test'], 86400) });
    clock += 3_600_000;
    const r = await run('move.test');
    expect(codes(r)).toEqual(['MTASTS_MX_CHANGE_UNCOVERED@mx2.ok.test']);
    expect(r.observations[0]!.params).toMatchObject({ id: 'v1', until: new Date(clock - 3_600_000 + 86_400_000).toISOString() });
    expect(r.details.held.map((h) => h.id)).toEqual(['v1']);
    clock += 86_400_000;
    expect(codes(await run('move.test'))).toEqual([]);
  });

  it('should warn when the record disappears while an enforcing policy is still cached, and not after mode none had its time', async () => {
    await publish('gone.test', { id: 'v1', body: ENFORCE(['mx1.ok.test'], 86400) });
    await run('gone.test');
    zone.delete('_mta-sts.gone.test');
    clock += 60_000;
    const r = await run('gone.test');
    expect(codes(r)).toEqual(['MTASTS_MISSING@gone.test', 'MTASTS_REMOVED_UNSAFELY@gone.test']);
    expect(r.observations.find((o) => o.code === 'MTASTS_REMOVED_UNSAFELY')!.params).toMatchObject({ what: 'record', id: 'v1' });

    await publish('safe.test', { id: 'v1', body: ENFORCE(['mx1.ok.test'], 86400) });
    await run('safe.test');
    await publish('safe.test', { id: 'v2', body: 'version: STSv1\nmode: none\nmax_age: 86400\n' });
    clock += 60_000;
    expect(codes(await run('safe.test'))).toEqual([]);
    clock += 86_400_000;
    zone.delete('_mta-sts.safe.test');
    expect(codes(await run('safe.test'))).toEqual(['MTASTS_MISSING@safe.test']);
  });

  it('should warn when the policy file disappears (404) while an enforcing policy is cached', async () => {
    await publish('404.test', { id: 'v1' });
    await run('404.test');
    await web.setSite('mta-sts.404.test', { behaviour: 'not-found' });
    clock += 60_000;
    expect(codes(await run('404.test'))).toEqual(['MTASTS_POLICY_UNREACHABLE@404.test', 'MTASTS_REMOVED_UNSAFELY@404.test']);
  });

  it('should not refetch sooner than five minutes after a failed fetch for the same id', async () => {
    await publish('retry.test', { id: 'v1', behaviour: 'not-found' });
    const first = await run('retry.test');
    expect(codes(first)).toEqual(['MTASTS_POLICY_UNREACHABLE@retry.test']);
    expect(web.requests).toHaveLength(1);
    await publish('retry.test', { id: 'v1' });
    clock += 60_000;
    const second = await run('retry.test');
    expect(codes(second)).toEqual(['MTASTS_POLICY_UNREACHABLE@retry.test']);
    expect(second.details).toMatchObject({ fetchReused: true, retryAfter: new Date(clock - 60_000 + 300_000).toISOString() });
    expect(web.requests).toHaveLength(1);
    clock += 5 * 60_000;
    expect(codes(await run('retry.test'))).toEqual([]);
    expect(web.requests).toHaveLength(2);
  });

  it('should fetch at once when the id changed after a failure', async () => {
    await publish('newid.test', { id: 'v1', behaviour: 'not-found' });
    await run('newid.test');
    await publish('newid.test', { id: 'v2' });
    clock += 60_000;
    expect(codes(await run('newid.test'))).toEqual([]);
  });

  it('should remember in the store the context lends, when there is one', async () => {
    const lent = new BoundedMemory();
    await publish('lent.test', { id: 'v1', body: ENFORCE(['mx1.ok.test'], 86400) });
    await run('lent.test', { memory: lent });
    expect(lent.size).toBe(1);
    expect(memory.size).toBe(0);
    zone.delete('_mta-sts.lent.test');
    expect(codes(await run('lent.test'))).toEqual(['MTASTS_MISSING@lent.test']);
    expect(codes(await run('lent.test', { memory: lent }))).toEqual(['MTASTS_MISSING@lent.test', 'MTASTS_REMOVED_UNSAFELY@lent.test']);
  });

  it('should write its memory only when the run changed what it remembers', async () => {
    const writes: string[] = [];
    const counting: ProbeMemory = {
      get: <T,>(key: string) => memory.get<T>(key),
      set: async (key, value) => {
        writes.push(key);
        await memory.set(key, value);
      },
    };
    // Most of a fleet publishes no MTA-STS: nothing to remember, no statement per check.
    expect(codes(await run('none.test', { memory: counting }))).toEqual(['MTASTS_MISSING@none.test']);
    expect(writes).toEqual([]);
    // A fetched policy is remembered, and again on the next fetch (its lastSeenAt moved on).
    await publish('kept.test', { id: 'v1', body: ENFORCE(['mx1.ok.test'], 86400) });
    await run('kept.test', { memory: counting });
    clock += 60_000;
    await run('kept.test', { memory: counting });
    expect(writes).toEqual(['mta-sts:kept.test', 'mta-sts:kept.test']);
    // The record went: the held policy is still remembered unchanged, once there is nothing new, nothing is written.
    zone.delete('_mta-sts.kept.test');
    expect(codes(await run('kept.test', { memory: counting }))).toEqual(['MTASTS_MISSING@kept.test', 'MTASTS_REMOVED_UNSAFELY@kept.test']);
    expect(codes(await run('kept.test', { memory: counting }))).toEqual(['MTASTS_MISSING@kept.test', 'MTASTS_REMOVED_UNSAFELY@kept.test']);
    expect(writes).toEqual(['mta-sts:kept.test', 'mta-sts:kept.test']);
    // Past its max_age the policy is forgotten, and that is written.
    clock += 86_400_000;
    expect(codes(await run('kept.test', { memory: counting }))).toEqual(['MTASTS_MISSING@kept.test']);
    expect(writes).toHaveLength(3);
    expect(await memory.get('mta-sts:kept.test')).toEqual({ policies: [], failure: null });
  });

  it('should be untestable, accusing nobody, when the lent memory fails (a database outage)', async () => {
    await publish('outage.test', { id: 'v1' });
    const failing = (which: 'get' | 'set'): ProbeMemory => ({
      get: async <T,>(key: string) => (which === 'get' ? Promise.reject(new Error('connection refused')) : memory.get<T>(key)),
      set: async (key, value) => (which === 'set' ? Promise.reject(new Error('connection refused')) : memory.set(key, value)),
    });
    for (const which of ['get', 'set'] as const) {
      const r = await run('outage.test', { memory: failing(which) });
      expect(r).toMatchObject({ status: 'untestable', reason: 'memory_unavailable', observations: [] });
      expect(r.details.error).toContain('connection refused');
    }
  });

  it('should read IPv6 policy hosts like any other (the address policy judges them)', async () => {
    zone.set('_mta-sts.v6.test', { TXT: ['v=STSv1; id=1'] });
    zone.set('mta-sts.v6.test', { AAAA: ['fd00::1'] });
    const r = await run('v6.test');
    expect(r.details.fetch).toMatchObject({ error: 'forbidden', refused: [{ ip: 'fd00::1', range: 'unique-local' }] });
    expect(net.isIP('fd00::1')).toBe(6);
  });
});
