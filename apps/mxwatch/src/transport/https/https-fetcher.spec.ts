import net from 'node:net';
import { once } from 'node:events';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { FakePolicyServer, MTA_STS_PATH } from '../../../../../test/rig/https/fake-policy-server.js';
import { createTestCa, type TestCa } from '../../../../../test/rig/tls/test-ca.js';
import { AddressPolicy } from '../net/address-policy.js';
import { NetDialer } from '../net/net-dialer.js';
import { NodeTlsUpgrader } from '../net/tls-upgrader.js';
import type { DnsAnswer, DnsErrorKind, DnsRecordType, Resolver } from '../transport.types.js';
import { HttpsFetcher } from './https-fetcher.js';

/** A resolver stub: names map to addresses, or to a DNS error kind. */
class MapResolver implements Resolver {
  readonly asked: string[] = [];
  constructor(readonly zone: Map<string, string[] | DnsErrorKind>) {}
  async resolve<T extends DnsRecordType>(name: string, type: T): Promise<DnsAnswer<T>> {
    this.asked.push(`${name}/${type}`);
    const entry = this.zone.get(name);
    if (entry === undefined) return { ok: false, type, name, error: 'nxdomain', cause: 'NXDOMAIN' } as DnsAnswer<T>;
    if (typeof entry === 'string') return { ok: false, type, name, error: entry, cause: entry.toUpperCase() } as DnsAnswer<T>;
    const records = entry.filter((ip) => net.isIP(ip) === (type === 'A' ? 4 : 6));
    if (!records.length) return { ok: false, type, name, error: 'nodata', cause: 'no records' } as DnsAnswer<T>;
    return { ok: true, type, name, records, ttl: 0 } as unknown as DnsAnswer<T>;
  }
}

describe(HttpsFetcher.name, () => {
  let ca: TestCa;
  let web: FakePolicyServer;
  let ip: string;
  let resolver: MapResolver;
  const allowLoopback = AddressPolicy.fromList('127.0.0.0/8');
  const POLICY = 'version: STSv1\nmode: enforce\nmx: mx.ok.test\nmax_age: 86400\n';

  function fetcher(options: { policy?: AddressPolicy; port?: number; timeoutMs?: number; maxBytes?: number } = {}): HttpsFetcher {
    const policy = options.policy ?? allowLoopback;
    return new HttpsFetcher({
      resolver,
      dialer: new NetDialer({ policy, portMap: new Map([[443, options.port ?? web.port]]) }),
      policy,
      tlsUpgrader: new NodeTlsUpgrader({ ca: ca.cert }),
      timeoutMs: options.timeoutMs,
      maxBytes: options.maxBytes,
    });
  }
  const url = (host: string) => `https://${host}${MTA_STS_PATH}`;
  const opts = () => ({ deadline: Date.now() + 10_000 });

  beforeAll(async () => {
    ca = await createTestCa({ commonName: 'mxwatch https test CA', keyType: 'ec' });
    ip = `127.${20 + Math.floor(Math.random() * 200)}.${Math.floor(Math.random() * 250)}.7`;
    web = await FakePolicyServer.start({ ca, ip });
    await web.setSite('mta-sts.ok.test', { behaviour: 'good', body: POLICY, headers: { 'set-cookie': 'track=1' } });
    await web.setSite('mta-sts.expired.test', { behaviour: 'expired', body: POLICY });
    await web.setSite('mta-sts.wrongname.test', { behaviour: 'wrong-name', body: POLICY });
    await web.setSite('mta-sts.selfsigned.test', { behaviour: 'self-signed', body: POLICY });
    await web.setSite('mta-sts.redirect.test', { behaviour: 'redirect', body: POLICY });
    await web.setSite('mta-sts.missing.test', { behaviour: 'not-found' });
    await web.setSite('mta-sts.big.test', { behaviour: 'oversized', body: POLICY });
    await web.setSite('mta-sts.bigchunked.test', { behaviour: 'oversized-chunked', body: POLICY });
    await web.setSite('mta-sts.html.test', { behaviour: 'wrong-content-type', body: POLICY });
    await web.setSite('mta-sts.stall.test', { behaviour: 'stall', body: POLICY });
    await web.setSite('mta-sts.slow.test', { behaviour: 'good', body: POLICY, delayMs: 150 });
  });

  afterAll(async () => {
    await web.close();
  });

  beforeEach(() => {
    const names = ['ok', 'expired', 'wrongname', 'selfsigned', 'redirect', 'missing', 'big', 'bigchunked', 'html', 'stall', 'slow'];
    resolver = new MapResolver(new Map(names.map((n) => [`mta-sts.${n}.test`, [ip]])));
    web.requests.length = 0;
  });

  it('should fetch from the vetted address with SNI and Host set to the name, through the port map', async () => {
    const r = await fetcher().fetch(url('mta-sts.ok.test'), opts());
    expect(r).toMatchObject({ ok: true, error: null, status: 200, body: POLICY, host: 'mta-sts.ok.test', ip, port: 443 });
    expect(r.headers['content-type']).toBe('text/plain; charset=utf-8');
    expect(r.cert).toMatchObject({ trusted: true, expired: false, nameMatch: true, authorizationError: null });
    expect(web.requests).toHaveLength(1);
    expect(web.requests[0]).toMatchObject({ sni: 'mta-sts.ok.test', host: 'mta-sts.ok.test', path: MTA_STS_PATH });
  });

  it('should send no cookie and keep none, even when the server sets one', async () => {
    const f = fetcher();
    const first = await f.fetch(url('mta-sts.ok.test'), opts());
    await f.fetch(url('mta-sts.ok.test'), opts());
    expect(first.headers['set-cookie']).toBeUndefined();
    expect(web.requests.map((r) => r.headers.cookie)).toEqual([undefined, undefined]);
  });

  it('should refuse a name resolving only to refused addresses before sending any packet', async () => {
    const before = web.handshakes;
    const r = await fetcher({ policy: new AddressPolicy() }).fetch(url('mta-sts.ok.test'), opts());
    expect(r).toMatchObject({ ok: false, error: 'forbidden', ip: null, refused: [{ ip, range: 'loopback' }] });
    expect(r.cause).toContain('MXWATCH_ALLOW_PRIVATE_TARGETS');
    expect(web.handshakes).toBe(before);
    expect(web.requests).toHaveLength(0);
  });

  it('should skip refused addresses and connect only to allowed ones', async () => {
    resolver.zone.set('mta-sts.ok.test', ['10.1.2.3', ip]);
    const r = await fetcher().fetch(url('mta-sts.ok.test'), opts());
    expect(r).toMatchObject({ ok: true, ip, refused: [{ ip: '10.1.2.3', range: 'private' }] });
  });

  it('should report a name that does not resolve as dns, keeping the resolver kind', async () => {
    const r = await fetcher().fetch(url('mta-sts.nowhere.test'), opts());
    expect(r).toMatchObject({ ok: false, error: 'dns', dnsError: 'nxdomain' });
    resolver.zone.set('mta-sts.broken.test', 'servfail');
    const s = await fetcher().fetch(url('mta-sts.broken.test'), opts());
    expect(s).toMatchObject({ ok: false, error: 'dns', dnsError: 'servfail' });
  });

  it('should report a closed port as connect', async () => {
    const probe = net.createServer();
    probe.listen(0, ip);
    await once(probe, 'listening');
    const closedPort = (probe.address() as net.AddressInfo).port;
    await new Promise((r) => probe.close(r));
    const r = await fetcher({ port: closedPort }).fetch(url('mta-sts.ok.test'), opts());
    expect(r).toMatchObject({ ok: false, error: 'connect', ip: null });
    expect(r.cause).toContain('refused');
  });

  it('should refuse an expired certificate, keep its facts and send no request', async () => {
    const r = await fetcher().fetch(url('mta-sts.expired.test'), opts());
    expect(r).toMatchObject({ ok: false, error: 'certificate', status: null, cert: { expired: true, trusted: true, nameMatch: true, authorizationError: 'CERT_HAS_EXPIRED' } });
    expect(r.cert!.notAfter < new Date().toISOString()).toBe(true);
    expect(web.requests).toHaveLength(0);
  });

  it('should refuse a certificate for another name', async () => {
    const r = await fetcher().fetch(url('mta-sts.wrongname.test'), opts());
    expect(r).toMatchObject({ ok: false, error: 'certificate', cert: { expired: false, trusted: true, nameMatch: false } });
    expect(r.cert!.sans).toEqual(['DNS:other.mta-sts.wrongname.test']);
    expect(r.cause).toContain('not valid for the name');
  });

  it('should refuse a self-signed certificate as untrusted', async () => {
    const r = await fetcher().fetch(url('mta-sts.selfsigned.test'), opts());
    expect(r).toMatchObject({ ok: false, error: 'certificate', cert: { trusted: false, nameMatch: true, authorizationError: 'DEPTH_ZERO_SELF_SIGNED_CERT' } });
  });

  it('should report a redirect without following it', async () => {
    const r = await fetcher().fetch(url('mta-sts.redirect.test'), opts());
    expect(r).toMatchObject({ ok: false, error: 'redirect', status: 301, location: `https://www.mta-sts.redirect.test${MTA_STS_PATH}` });
    expect(web.requests).toHaveLength(1);
    expect(resolver.asked.filter((q) => q.startsWith('www.'))).toEqual([]);
  });

  it('should report a status other than 200', async () => {
    const r = await fetcher().fetch(url('mta-sts.missing.test'), opts());
    expect(r).toMatchObject({ ok: false, error: 'status', status: 404 });
  });

  it('should stop at the byte cap whether the length is declared or streamed', async () => {
    const declared = await fetcher().fetch(url('mta-sts.big.test'), opts());
    expect(declared).toMatchObject({ ok: false, error: 'size', status: 200, body: null });
    const streamed = await fetcher().fetch(url('mta-sts.bigchunked.test'), opts());
    expect(streamed).toMatchObject({ ok: false, error: 'size', status: 200, body: null });
    expect(streamed.bytes).toBeGreaterThan(64 * 1024);
    expect(streamed.bytes).toBeLessThan(70 * 1024);
  });

  it('should hand back the content type as served', async () => {
    const r = await fetcher().fetch(url('mta-sts.html.test'), opts());
    expect(r).toMatchObject({ ok: true, body: POLICY });
    expect(r.headers['content-type']).toBe('text/html; charset=utf-8');
  });

  it('should give up at its deadline on a body that never ends', async () => {
    const r = await fetcher({ timeoutMs: 300 }).fetch(url('mta-sts.stall.test'), opts());
    expect(r).toMatchObject({ ok: false, error: 'timeout', status: 200 });
  });

  it('should never run the deadline past the caller\'s', async () => {
    const r = await fetcher({ timeoutMs: 60_000 }).fetch(url('mta-sts.stall.test'), { deadline: Date.now() + 300 });
    expect(r.error).toBe('timeout');
  });

  it('should report a server that does not speak TLS as tls', async () => {
    const plain = net.createServer((s) => s.end('HTTP/1.1 400 Bad Request\r\n\r\n'));
    plain.listen(0, ip);
    await once(plain, 'listening');
    try {
      const r = await fetcher({ port: (plain.address() as net.AddressInfo).port }).fetch(url('mta-sts.ok.test'), opts());
      expect(r).toMatchObject({ ok: false, error: 'tls', ip });
    } finally {
      plain.close();
    }
  });

  it('should run one request at a time per host', async () => {
    const f = fetcher();
    const results = await Promise.all([1, 2, 3].map(() => f.fetch(url('mta-sts.slow.test'), opts())));
    expect(results.map((r) => r.ok)).toEqual([true, true, true]);
    expect(web.maxInFlight.get('mta-sts.slow.test')).toBe(1);
  });

  it('should refuse anything but https URLs', () => {
    expect(() => fetcher().fetch('http://mta-sts.ok.test/', opts())).toThrow(/only https/);
  });
});
