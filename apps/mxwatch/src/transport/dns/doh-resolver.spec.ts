import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { FakeDnsServer } from '../../../../../test/rig/dns/fake-dns-server.js';
import { DohExchange, DohResolver, type DohResolverOptions } from './doh-resolver.js';

describe(DohResolver.name, () => {
  let dns: FakeDnsServer;
  let backup: FakeDnsServer;
  const resolvers: DohResolver[] = [];

  function resolver(options: Partial<DohResolverOptions> = {}): DohResolver {
    const r = new DohResolver({ servers: [dns.httpAddress!], protocol: 'http', timeoutMs: 1000, ...options });
    resolvers.push(r);
    return r;
  }

  beforeAll(async () => {
    dns = await FakeDnsServer.start({ https: true });
    backup = await FakeDnsServer.start({ host: '127.0.0.2' });
  });

  afterEach(() => {
    dns.reset();
    backup.reset();
    for (const r of resolvers.splice(0)) r.close();
  });

  afterAll(async () => {
    await dns.close();
    await backup.close();
  });

  describe('record types', () => {
    it('should resolve A and AAAA records with the TTL of the answer', async () => {
      dns.setRecords('host.example.test', 'A', ['192.0.2.1', '192.0.2.2'], 120);
      dns.setRecords('host.example.test', 'AAAA', ['2001:db8::1'], 60);
      const r = resolver();
      await expect(r.resolve('host.example.test', 'A')).resolves.toEqual({
        ok: true, type: 'A', name: 'host.example.test', records: ['192.0.2.1', '192.0.2.2'], ttl: 120,
      });
      await expect(r.resolve('HOST.example.test.', 'AAAA')).resolves.toMatchObject({ ok: true, records: ['2001:db8::1'], ttl: 60 });
    });

    it('should ask internationalised names in punycode and accept the answer to them', async () => {
      dns.setRecords('xn--bcher-kva.example.test', 'A', ['192.0.2.8']);
      await expect(resolver().resolve('bücher.example.test', 'A')).resolves.toMatchObject({ ok: true, records: ['192.0.2.8'] });
    });

    it('should resolve MX records with lower-cased exchanges and the null MX as "."', async () => {
      dns.setRecords('example.test', 'MX', [{ preference: 10, exchange: 'MX1.Example.test' }, { preference: 0, exchange: '.' }]);
      await expect(resolver().resolve('example.test', 'MX')).resolves.toMatchObject({
        ok: true,
        records: [{ exchange: 'mx1.example.test', priority: 10 }, { exchange: '.', priority: 0 }],
      });
    });

    it('should join the character-strings of a TXT record into one string per record', async () => {
      dns.setRecords('example.test', 'TXT', [['v=spf1 ', 'include:a.test ', '-all'], 'second']);
      await expect(resolver().resolve('example.test', 'TXT')).resolves.toMatchObject({ ok: true, records: ['v=spf1 include:a.test -all', 'second'] });
    });

    it('should resolve SRV records', async () => {
      dns.setRecords('_submission._tcp.example.test', 'SRV', [{ priority: 0, weight: 1, port: 587, target: 'smtp.example.test' }]);
      await expect(resolver().resolve('_submission._tcp.example.test', 'SRV')).resolves.toMatchObject({
        ok: true, records: [{ name: 'smtp.example.test', port: 587, priority: 0, weight: 1 }],
      });
    });

    it('should tell an alias from a canonical name through the CNAME type', async () => {
      dns.setZone({ 'alias.example.test': { CNAME: ['real.example.test'] }, 'real.example.test': { A: ['192.0.2.7'] } });
      const r = resolver();
      await expect(r.resolve('alias.example.test', 'CNAME')).resolves.toMatchObject({ ok: true, records: ['real.example.test'] });
      await expect(r.resolve('alias.example.test', 'A')).resolves.toMatchObject({ ok: true, records: ['192.0.2.7'] });
      await expect(r.resolve('real.example.test', 'CNAME')).resolves.toMatchObject({ ok: false, error: 'nodata' });
    });

    it('should answer nodata when a CNAME chain ends at a name without the type', async () => {
      dns.setZone({ 'alias.example.test': { CNAME: ['real.example.test'] }, 'real.example.test': { TXT: ['x'] } });
      await expect(resolver().resolve('alias.example.test', 'A')).resolves.toMatchObject({ ok: false, error: 'nodata' });
    });
  });

  describe('errors', () => {
    it('should classify NXDOMAIN and NODATA as facts about the name, without retrying', async () => {
      dns.setRecords('exists.example.test', 'TXT', ['x']);
      const r = resolver({ attempts: 3 });
      await expect(r.resolve('missing.example.test', 'A')).resolves.toMatchObject({ ok: false, error: 'nxdomain', cause: expect.stringContaining('NXDOMAIN') });
      await expect(r.resolve('exists.example.test', 'A')).resolves.toMatchObject({ ok: false, error: 'nodata' });
      expect(dns.queryCount()).toBe(2);
    });

    it.each([
      ['SERVFAIL', 'servfail'],
      ['REFUSED', 'refused'],
    ] as const)('should classify %s and retry it on every attempt', async (rcode, kind) => {
      dns.setFault('example.test', { rcode });
      const answer = await resolver({ attempts: 3 }).resolve('a.example.test', 'A');
      expect(answer).toMatchObject({ ok: false, error: kind });
      expect(dns.queryCount('a.example.test')).toBe(3);
    });

    it.each([429, 500])('should classify HTTP %i as badresp with the status in the cause', async (status) => {
      dns.setFault('*', { httpStatus: status });
      const answer = await resolver({ attempts: 1 }).resolve('a.example.test', 'A');
      expect(answer).toMatchObject({ ok: false, error: 'badresp', cause: expect.stringContaining(`HTTP ${status}`) });
    });

    it('should classify an unanswered request as a timeout after its own deadline', async () => {
      dns.setFault('*', { drop: true });
      const started = Date.now();
      const answer = await resolver({ attempts: 2, timeoutMs: 200 }).resolve('a.example.test', 'A');
      expect(answer).toMatchObject({ ok: false, error: 'timeout', cause: expect.stringContaining('200 ms') });
      expect(dns.queryCount()).toBe(2);
      expect(Date.now() - started).toBeLessThan(5000);
    });

    it('should classify a refused connection as transport and keep the real cause', async () => {
      const closed = await FakeDnsServer.start({ host: '127.0.0.3', udp: false });
      const address = closed.httpAddress!;
      await closed.close();
      const answer = await resolver({ servers: [address], attempts: 1 }).resolve('a.example.test', 'A');
      expect(answer).toMatchObject({ ok: false, error: 'transport', cause: expect.stringContaining('ECONNREFUSED') });
    });

    it('should reject when the caller aborts', async () => {
      dns.setFault('*', { drop: true });
      const controller = new AbortController();
      const pending = resolver({ timeoutMs: 5000 }).resolve('a.example.test', 'A', { signal: controller.signal });
      setTimeout(() => controller.abort(new Error('check cancelled')), 20);
      await expect(pending).rejects.toThrow('check cancelled');
    });

    it('should keep a shared lookup going for the callers still waiting when one of them aborts', async () => {
      dns.setRecords('a.example.test', 'A', ['192.0.2.1']).setFault('a.example.test', { delayMs: 150 });
      const r = resolver();
      const leaving = new AbortController();
      const first = r.resolve('a.example.test', 'A', { signal: leaving.signal });
      const second = r.resolve('a.example.test', 'A');
      setTimeout(() => leaving.abort(new Error('check cancelled')), 20);
      await expect(first).rejects.toThrow('check cancelled');
      await expect(second).resolves.toMatchObject({ ok: true, records: ['192.0.2.1'] });
      expect(r.stats()).toMatchObject({ queries: 1, coalesced: 1 });
    });

    it('should stop the request in flight, and start no other attempt, when the last caller aborts', async () => {
      dns.setFault('*', { drop: true });
      const r = resolver({ timeoutMs: 5000, attempts: 3 });
      const controller = new AbortController();
      const pending = r.resolve('a.example.test', 'A', { signal: controller.signal });
      setTimeout(() => controller.abort(new Error('check cancelled')), 30);
      await expect(pending).rejects.toThrow('check cancelled');
      // The attempt's deadline (5 s) would fire a second attempt if the lookup had gone on.
      await new Promise((res) => setTimeout(res, 100));
      expect(dns.queryCount()).toBe(1);
      expect(r.stats().queries).toBe(1);
      expect(process.getActiveResourcesInfo().filter((x) => x === 'TCPSocketWrap').length).toBe(0);
    });

    it("should end a request when tangerine's own backstop timer fires, though the caller's signal never does", async () => {
      dns.setFault('*', { drop: true });
      // tangerine's timer is the attempt's deadline + 1 s; the exchange is handed a signal that never aborts.
      const exchange = new DohExchange([dns.httpAddress!], 'http', 50);
      try {
        const started = Date.now();
        const result = await exchange.exchange(0, { name: 'a.example.test', type: 'A', dnssec: false, checkingDisabled: false }, new AbortController().signal);
        expect(result.ok).toBe(false);
        expect(Date.now() - started).toBeGreaterThanOrEqual(1000);
      } finally {
        exchange.close();
      }
    });
  });

  describe('failover', () => {
    it('should fail over to the next server after a timeout', async () => {
      dns.setFault('*', { drop: true });
      backup.setRecords('a.example.test', 'A', ['192.0.2.9']);
      const r = resolver({ servers: [dns.httpAddress!, backup.httpAddress!], timeoutMs: 200 });
      await expect(r.resolve('a.example.test', 'A')).resolves.toMatchObject({ ok: true, records: ['192.0.2.9'] });
      expect(dns.queryCount()).toBe(1);
      expect(backup.queryCount()).toBe(1);
    });

    it('should fail over after SERVFAIL and after a refused connection', async () => {
      dns.setFault('*', { rcode: 'SERVFAIL' });
      backup.setRecords('a.example.test', 'A', ['192.0.2.9']);
      const r = resolver({ servers: ['127.0.0.4:1', dns.httpAddress!, backup.httpAddress!] });
      await expect(r.resolve('a.example.test', 'A')).resolves.toMatchObject({ ok: true, records: ['192.0.2.9'] });
      expect(r.stats().queries).toBe(3);
    });
  });

  describe('cache', () => {
    it('should answer from the cache until the TTL expires', async () => {
      let now = 1_000_000;
      dns.setRecords('a.example.test', 'A', ['192.0.2.1'], 30);
      const r = resolver({ now: () => now });
      await r.resolve('a.example.test', 'A');
      now += 10_000;
      await expect(r.resolve('a.example.test', 'A')).resolves.toMatchObject({ ok: true, ttl: 20 });
      expect(r.stats()).toMatchObject({ queries: 1, cacheHits: 1 });
      now += 21_000;
      await r.resolve('a.example.test', 'A');
      expect(r.stats()).toMatchObject({ queries: 2, cacheHits: 1 });
    });

    it('should cache NXDOMAIN for the SOA minimum of the zone', async () => {
      let now = 1_000_000;
      dns.setSoa('example.test', 30, 300);
      const r = resolver({ now: () => now });
      await r.resolve('missing.example.test', 'A');
      now += 29_000;
      await expect(r.resolve('missing.example.test', 'A')).resolves.toMatchObject({ ok: false, error: 'nxdomain' });
      expect(dns.queryCount()).toBe(1);
      now += 2_000;
      await r.resolve('missing.example.test', 'A');
      expect(dns.queryCount()).toBe(2);
    });

    it('should cache a negative answer without SOA for the default negative TTL', async () => {
      let now = 1_000_000;
      const r = resolver({ now: () => now, defaultNegativeTtl: 60 });
      await r.resolve('missing.example.test', 'A');
      now += 59_000;
      await r.resolve('missing.example.test', 'A');
      expect(dns.queryCount()).toBe(1);
      now += 2_000;
      await r.resolve('missing.example.test', 'A');
      expect(dns.queryCount()).toBe(2);
    });

    it('should never cache timeouts or SERVFAIL', async () => {
      dns.setFault('*', { rcode: 'SERVFAIL' });
      const r = resolver({ attempts: 1 });
      await r.resolve('a.example.test', 'A');
      dns.clearFaults().setRecords('a.example.test', 'A', ['192.0.2.1']);
      await expect(r.resolve('a.example.test', 'A')).resolves.toMatchObject({ ok: true });
    });

    it('should evict the least recently used entry beyond its bound', async () => {
      for (const n of ['a', 'b', 'c']) dns.setRecords(`${n}.example.test`, 'A', ['192.0.2.1']);
      const r = resolver({ cacheMaxEntries: 2 });
      await r.resolve('a.example.test', 'A');
      await r.resolve('b.example.test', 'A');
      await r.resolve('a.example.test', 'A');
      await r.resolve('c.example.test', 'A');
      expect(r.stats().cacheEntries).toBe(2);
      await r.resolve('a.example.test', 'A');
      await r.resolve('b.example.test', 'A');
      expect(dns.queryCount('a.example.test')).toBe(1);
      expect(dns.queryCount('b.example.test')).toBe(2);
    });

    it('should also keep the cache within its bytes: a few large answers do not hold the room of thousands', async () => {
      for (const n of ['a', 'b', 'c']) dns.setRecords(`${n}.example.test`, 'TXT', ['x'.repeat(200), 'y'.repeat(200)]);
      const r = resolver({ cacheMaxEntries: 100, cacheMaxBytes: 1_600 });
      for (const n of ['a', 'b', 'c']) await r.resolve(`${n}.example.test`, 'TXT');
      expect(r.stats().cacheEntries).toBe(2);
      await r.resolve('c.example.test', 'TXT');
      await r.resolve('a.example.test', 'TXT');
      expect(dns.queryCount('c.example.test')).toBe(1);
      expect(dns.queryCount('a.example.test')).toBe(2);
    });

    it('should send one query for identical lookups in flight together', async () => {
      dns.setRecords('a.example.test', 'A', ['192.0.2.1']).setFault('*', { delayMs: 50 });
      const r = resolver();
      const answers = await Promise.all([1, 2, 3].map(() => r.resolve('a.example.test', 'A')));
      expect(answers.every((a) => a.ok)).toBe(true);
      expect(dns.queryCount()).toBe(1);
      expect(r.stats().coalesced).toBe(2);
    });
  });

  describe('https', () => {
    it('should resolve over HTTPS when given the CA of the server', async () => {
      dns.setRecords('a.example.test', 'A', ['192.0.2.1']);
      const r = resolver({ servers: [dns.httpsAddress!], protocol: 'https', tls: { ca: dns.caCert! } });
      await expect(r.resolve('a.example.test', 'A')).resolves.toMatchObject({ ok: true, records: ['192.0.2.1'] });
      expect(dns.queries[0]).toMatchObject({ transport: 'https' });
    });

    it('should make its TLS context with the extra CA once, not one per connection and request', async () => {
      // Given as `ca` on each request, node:https put the roots and the CA (~200 KB of PEM) into
      // every request's connection-pool key and parsed them into a new context per connection.
      const { default: tls } = await import('node:tls');
      const made = vi.spyOn(tls, 'createSecureContext');
      try {
        dns.setRecords('a.example.test', 'A', ['192.0.2.1']);
        const r = resolver({ servers: [dns.httpsAddress!], protocol: 'https', tls: { ca: dns.caCert! } });
        const answers = await Promise.all(['a', 'b', 'c', 'd'].map((n) => r.resolve(`${n}.example.test`, 'A')));
        expect(answers[0]).toMatchObject({ ok: true, records: ['192.0.2.1'] });
        expect(dns.queries.length).toBe(4);
        expect(made).not.toHaveBeenCalled();
      } finally {
        made.mockRestore();
      }
    });

    it('should ask a resolver that speaks HTTP/2 over HTTP/2, as the public ones are asked', async () => {
      const h2 = await FakeDnsServer.start({ host: '127.0.0.3', https: true, http2: true, http: false, udp: false, tcp: false });
      try {
        h2.setRecords('a.example.test', 'A', ['192.0.2.1']);
        const r = resolver({ servers: [h2.httpsAddress!], protocol: 'https', tls: { ca: h2.caCert! } });
        await expect(r.resolve('a.example.test', 'A')).resolves.toMatchObject({ ok: true, records: ['192.0.2.1'] });
        await expect(r.resolve('b.example.test', 'A')).resolves.toMatchObject({ ok: false, error: 'nxdomain' });
        expect(h2.queries.map((q) => `${q.transport} ${q.httpVersion}`)).toEqual(['https 2.0', 'https 2.0']);
        // The other one speaks HTTP/1.1 only.
        dns.setRecords('a.example.test', 'A', ['192.0.2.1']);
        const h1 = resolver({ servers: [dns.httpsAddress!], protocol: 'https', tls: { ca: dns.caCert! } });
        await expect(h1.resolve('a.example.test', 'A')).resolves.toMatchObject({ ok: true });
        expect(dns.queries.map((q) => q.httpVersion)).toEqual(['1.1']);
      } finally {
        for (const r of resolvers.splice(0)) r.close();
        await h2.close();
      }
    });

    it('should report an untrusted certificate as transport with the TLS reason', async () => {
      const r = resolver({ servers: [dns.httpsAddress!], protocol: 'https', attempts: 1 });
      const answer = await r.resolve('a.example.test', 'A');
      expect(answer).toMatchObject({ ok: false, error: 'transport' });
      expect(!answer.ok && answer.cause).toMatch(/certificate/i);
    });
  });

  describe('dnssec', () => {
    it('should set DO and CD in the query tangerine builds and report AD and extended errors', async () => {
      dns.setRecords('signed.example.test', 'A', ['192.0.2.1']).setDnssec('signed.example.test', 'secure');
      dns.setRecords('bogus.example.test', 'A', ['192.0.2.66']).setDnssec('bogus.example.test', 'bogus');
      const r = resolver({ attempts: 1 });
      await expect(r.resolve('signed.example.test', 'A', { dnssec: true })).resolves.toMatchObject({
        ok: true,
        dnssec: { authenticated: true, checkingDisabled: false, rcode: 'NOERROR' },
      });
      expect(dns.queries[0]).toMatchObject({ dnssecOk: true, checkingDisabled: false, transport: 'http', method: 'GET' });
      await expect(r.resolve('bogus.example.test', 'A', { dnssec: true })).resolves.toMatchObject({
        ok: false,
        error: 'servfail',
        dnssec: { rcode: 'SERVFAIL', ede: [{ code: 6 }] },
      });
      await expect(r.resolve('bogus.example.test', 'A', { dnssec: true, checkingDisabled: true })).resolves.toMatchObject({
        ok: true,
        records: ['192.0.2.66'],
        dnssec: { authenticated: false, checkingDisabled: true },
      });
      expect(dns.queries[2]).toMatchObject({ dnssecOk: true, checkingDisabled: true });
      const plain = await r.resolve('signed.example.test', 'A');
      expect(plain).not.toHaveProperty('dnssec');
      expect(dns.queries[3]).toMatchObject({ dnssecOk: false, checkingDisabled: false });
    });
  });

  describe('cname following', () => {
    it('should follow a CNAME answered without its target and report a loop as a fact', async () => {
      dns.setZone({ 'alias.example.test': { CNAME: ['real.example.test'] }, 'real.example.test': { A: ['192.0.2.7'] } });
      dns.setZone({ 'a.example.test': { CNAME: ['b.example.test'] }, 'b.example.test': { CNAME: ['a.example.test'] } });
      dns.setFault('*', { cnameOnly: true });
      const r = resolver();
      await expect(r.resolve('alias.example.test', 'A')).resolves.toMatchObject({ ok: true, name: 'alias.example.test', records: ['192.0.2.7'] });
      await expect(r.resolve('a.example.test', 'TXT')).resolves.toMatchObject({ ok: false, error: 'cname_loop' });
    });
  });

  describe('hostile bodies', () => {
    it('should stop reading a body at 65,535 bytes while megabytes arrive slowly', async () => {
      dns.setFault('*', { hugeBody: { bytes: 8 * 1024 * 1024, chunkBytes: 32 * 1024, intervalMs: 5 } });
      const answer = await resolver({ attempts: 1, timeoutMs: 5000 }).resolve('a.example.test', 'A');
      expect(answer).toMatchObject({ ok: false, error: 'badresp', cause: expect.stringContaining('exceeds 65535 bytes') });
      const sent = () => dns.queries[0].bodyBytesSent!;
      // The hang-up reaches the server within a chunk or two; after that nothing more is written.
      await new Promise((r) => setTimeout(r, 50));
      const atAnswer = sent();
      await new Promise((r) => setTimeout(r, 100));
      // The server noticed the hang-up: no byte was written after the answer (and far from 8 MiB).
      expect(sent()).toBe(atAnswer);
      expect(atAnswer).toBeLessThan(1024 * 1024);
    });

    it('should stop reading a slow body at the attempt deadline', async () => {
      dns.setFault('*', { hugeBody: { bytes: 60_000, chunkBytes: 64, intervalMs: 20 } });
      const answer = await resolver({ attempts: 1, timeoutMs: 300 }).resolve('a.example.test', 'A');
      expect(answer).toMatchObject({ ok: false, error: 'timeout' });
      await new Promise((r) => setTimeout(r, 50));
      const atAnswer = dns.queries[0].bodyBytesSent!;
      await new Promise((r) => setTimeout(r, 150));
      expect(dns.queries[0].bodyBytesSent).toBe(atAnswer);
      expect(atAnswer).toBeLessThan(60_000);
    });
  });

  describe('protocol mismatch', () => {
    it('should say so when https meets a plain-HTTP DoH server', async () => {
      const answer = await resolver({ servers: [dns.httpAddress!], protocol: 'https', attempts: 1 }).resolve('a.example.test', 'A');
      expect(answer).toMatchObject({ ok: false, error: 'transport', cause: expect.stringContaining('does not speak TLS') });
      expect(!answer.ok && answer.cause).toContain('use protocol http');
      expect(!answer.ok && answer.cause).toContain('wrong version number');
    });

    it('should say so when http meets a DoH server that speaks TLS', async () => {
      const answer = await resolver({ servers: [dns.httpsAddress!], protocol: 'http', attempts: 1 }).resolve('a.example.test', 'A');
      expect(answer).toMatchObject({ ok: false, error: 'transport', cause: expect.stringContaining('speaks TLS, not plain HTTP') });
      expect(!answer.ok && answer.cause).toContain('use protocol https');
    });

    it('should not blame TLS when a plain-HTTP server merely hangs up', async () => {
      const { createServer } = await import('node:net');
      const rude = createServer((socket) => socket.once('data', () => socket.destroy()));
      await new Promise<void>((res) => rude.listen(0, '127.0.0.6', () => res()));
      try {
        const port = (rude.address() as { port: number }).port;
        const answer = await resolver({ servers: [`127.0.0.6:${port}`], attempts: 1 }).resolve('a.example.test', 'A');
        expect(answer).toMatchObject({ ok: false, error: 'transport' });
        expect(!answer.ok && answer.cause).not.toContain('TLS');
      } finally {
        rude.close();
      }
    });
  });

  describe('HTTP/2', () => {
    /** A DoH server over TLS on 127.0.0.7 answering every A question with 192.0.2.2; `seen` holds each request's HTTP version and method. */
    async function tlsDohServer(speaks: 'h2' | 'h2 and http/1.1' | 'http/1.1', options: { onlyBySni?: string } = {}) {
      const { createSecureServer } = await import('node:http2');
      const { createServer } = await import('node:https');
      const { default: packet } = await import('dns-packet');
      const { createTestCa } = await import('../../../../../test/rig/tls/test-ca.js');
      const ca = await createTestCa({ commonName: 'h2 test CA' });
      const leaf = await ca.issue({ commonName: '127.0.0.7', altNames: ['127.0.0.7', 'localhost'] });
      const seen: string[] = [];
      let connections = 0;
      const { createSecureContext } = await import('node:tls');
      // onlyBySni: no certificate without SNI naming it, as shared front ends answer.
      const certificate = options.onlyBySni
        ? { SNICallback: (name: string, cb: (e: Error | null, ctx?: import('node:tls').SecureContext) => void) => (name === options.onlyBySni ? cb(null, createSecureContext({ key: leaf.key, cert: leaf.cert })) : cb(new Error(`no certificate for ${name}`))) }
        : { key: leaf.key, cert: leaf.cert };
      const handler = (req: import('node:http').IncomingMessage | import('node:http2').Http2ServerRequest, res: import('node:http').ServerResponse | import('node:http2').Http2ServerResponse) => {
        seen.push(`${req.httpVersion} ${req.method}`);
        const url = new URL(req.url!, 'https://x');
        const query = packet.decode(Buffer.from(url.searchParams.get('dns')!, 'base64url'));
        const answer = packet.encode({
          type: 'response', id: query.id, flags: packet.RECURSION_AVAILABLE, questions: query.questions,
          answers: [{ type: 'A', name: query.questions![0]!.name, ttl: 60, data: '192.0.2.2' }],
        });
        (res as import('node:http').ServerResponse).writeHead(200, { 'content-type': 'application/dns-message' }).end(answer);
      };
      const server =
        speaks === 'http/1.1'
          ? createServer(certificate, handler)
          : createSecureServer({ ...certificate, allowHTTP1: speaks !== 'h2' }, handler);
      server.on('connection', () => connections++);
      await new Promise<void>((res) => server.listen(0, '127.0.0.7', () => res()));
      const port = (server.address() as { port: number }).port;
      return { server, seen, ca, address: `127.0.0.7:${port}`, port, connections: () => connections };
    }

    it('should fall back to HTTP/2 for a DoH server that speaks nothing else over TLS, and stay on it', async () => {
      const h2 = await tlsDohServer('h2');
      try {
        const r = resolver({ servers: [h2.address], protocol: 'https', tls: { ca: h2.ca.cert }, attempts: 1 });
        const first = await r.resolve('a.example.test', 'A');
        expect(first, JSON.stringify(first)).toMatchObject({ ok: true, records: ['192.0.2.2'] });
        await expect(r.resolve('b.example.test', 'A')).resolves.toMatchObject({ ok: true, records: ['192.0.2.2'] });
        expect(h2.seen).toEqual(['2.0 GET', '2.0 GET']);
        expect(r.stats().queries).toBe(2);
      } finally {
        h2.server.close();
      }
    });

    it('should ask a DoH server that speaks both over HTTP/2 (RFC 8484), every question on the one connection that found out', async () => {
      const both = await tlsDohServer('h2 and http/1.1');
      try {
        const r = resolver({ servers: [both.address], protocol: 'https', tls: { ca: both.ca.cert }, attempts: 1 });
        // Questions at once, before anything is known of the server: one negotiation for all.
        const answers = await Promise.all(['a', 'b', 'c', 'd', 'e'].map((n) => r.resolve(`${n}.example.test`, 'A')));
        for (const a of answers) expect(a, JSON.stringify(a)).toMatchObject({ ok: true, records: ['192.0.2.2'] });
        await expect(r.resolve('f.example.test', 'A')).resolves.toMatchObject({ ok: true, records: ['192.0.2.2'] });
        expect(both.seen).toEqual(Array(6).fill('2.0 GET'));
        expect(both.connections()).toBe(1);
      } finally {
        both.server.close();
      }
    });

    it('should name the server it negotiates with (SNI), as a DoH server by name behind a shared front end needs', async () => {
      const named = await tlsDohServer('h2 and http/1.1', { onlyBySni: 'localhost' });
      try {
        // localhost is 127.0.0.1 here; the server listens on 127.0.0.7.
        const { createServer: createTcpServer, connect } = await import('node:net');
        const relay = createTcpServer((c) => c.pipe(connect(named.port, '127.0.0.7')).pipe(c).on('error', () => c.destroy()));
        await new Promise<void>((res) => relay.listen(0, '127.0.0.1', () => res()));
        try {
          const r = resolver({ servers: [`localhost:${(relay.address() as { port: number }).port}`], protocol: 'https', tls: { ca: named.ca.cert }, attempts: 1 });
          for (const n of ['a', 'b']) {
            const answer = await r.resolve(`${n}.example.test`, 'A');
            expect(answer, JSON.stringify(answer)).toMatchObject({ ok: true, records: ['192.0.2.2'] });
          }
          expect(named.seen).toEqual(['2.0 GET', '2.0 GET']);
        } finally {
          relay.close();
        }
      } finally {
        named.server.close();
      }
    });

    it('should stay on HTTP/1.1 with a DoH server that does not speak HTTP/2, asking it only once', async () => {
      const h1 = await tlsDohServer('http/1.1');
      try {
        const r = resolver({ servers: [h1.address], protocol: 'https', tls: { ca: h1.ca.cert }, attempts: 1 });
        for (const n of ['a', 'b', 'c', 'd']) await expect(r.resolve(`${n}.example.test`, 'A')).resolves.toMatchObject({ ok: true, records: ['192.0.2.2'] });
        expect(h1.seen).toEqual(Array(4).fill('1.1 GET'));
        // The negotiation's connection, then the one kept alive for every question.
        expect(h1.connections()).toBe(2);
      } finally {
        h1.server.close();
      }
    });
  });

  describe('process lifetime', () => {
    it('should leave no timer behind after lookups that timed out or failed', async () => {
      // A pending timer would keep the process alive after the lookup (tangerine's own per-request
      // timer does that when its request rejects).
      const timers = () => process.getActiveResourcesInfo().filter((r) => r === 'Timeout').length;
      dns.setFault('*', { drop: true });
      const r = resolver({ timeoutMs: 100, attempts: 2 });
      const before = timers();
      await expect(r.resolve('a.example.test', 'A')).resolves.toMatchObject({ error: 'timeout' });
      await expect(resolver({ servers: ['127.0.0.4:1'], attempts: 1 }).resolve('b.example.test', 'A')).resolves.toMatchObject({ error: 'transport' });
      expect(timers()).toBeLessThanOrEqual(before);
    });
  });
});
