import { createSocket } from 'node:dgram';
import { createServer, type Server } from 'node:net';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { FakeDnsServer } from '../../../../../test/rig/dns/fake-dns-server.js';
import { parsePlainServer, PlainDnsResolver, type PlainDnsResolverOptions } from './plain-dns-resolver.js';

const PROTOCOLS = ['udp', 'tcp'] as const;

describe(PlainDnsResolver.name, () => {
  let dns: FakeDnsServer;
  let backup: FakeDnsServer;
  const resolvers: PlainDnsResolver[] = [];

  function address(server: FakeDnsServer, protocol: 'udp' | 'tcp'): string {
    return protocol === 'udp' ? server.udpAddress! : server.tcpAddress!;
  }

  function resolver(protocol: 'udp' | 'tcp', options: Partial<PlainDnsResolverOptions> = {}): PlainDnsResolver {
    const r = new PlainDnsResolver({ servers: [address(dns, protocol)], protocol, timeoutMs: 1000, attempts: 1, ...options });
    resolvers.push(r);
    return r;
  }

  beforeAll(async () => {
    // UDP and TCP on one port, as a real resolver listens: the TCP fallback goes to the UDP address.
    dns = await FakeDnsServer.start({ host: '127.0.0.41', http: false, udpMaxSize: 1232 });
    expect(dns.tcpAddress).toBe(dns.udpAddress);
    backup = await FakeDnsServer.start({ host: '127.0.0.42', http: false });
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

  describe.each(PROTOCOLS)('over %s', (protocol) => {
    it('should resolve every record type the contract names', async () => {
      dns.setZone({
        'example.test': {
          A: ['192.0.2.1'],
          AAAA: ['2001:db8::1'],
          MX: [{ preference: 10, exchange: 'MX1.Example.test' }],
          TXT: [['v=spf1 ', '-all']],
          NS: ['ns1.example.test'],
          SOA: [{ mname: 'ns1.example.test', rname: 'hostmaster.example.test', serial: 7, refresh: 1, retry: 2, expire: 3, minimum: 4 }],
          DNSKEY: [{ flags: 257, algorithm: 13, key: 'AQID' }],
          DS: [{ keyTag: 12345, algorithm: 13, digestType: 2, digest: 'ABCDEF' }],
        },
        '_25._tcp.mx1.example.test': { TLSA: [{ usage: 3, selector: 1, matchingType: 1, data: '00FF' }] },
        '_submission._tcp.example.test': { SRV: [{ priority: 0, weight: 5, port: 587, target: 'smtp.example.test' }] },
        '1.2.0.192.in-addr.arpa': { PTR: ['Mail.Example.test.'] },
      });
      const r = resolver(protocol);
      const records = async (name: string, type: Parameters<PlainDnsResolver['resolve']>[1]) => {
        const a = await r.resolve(name, type);
        expect(a.ok, `${type} ${name}: ${a.ok ? '' : a.cause}`).toBe(true);
        return a.ok ? a.records : [];
      };
      expect(await records('example.test', 'A')).toEqual(['192.0.2.1']);
      expect(await records('example.test', 'AAAA')).toEqual(['2001:db8::1']);
      expect(await records('example.test', 'MX')).toEqual([{ exchange: 'mx1.example.test', priority: 10 }]);
      expect(await records('example.test', 'TXT')).toEqual(['v=spf1 -all']);
      expect(await records('example.test', 'NS')).toEqual(['ns1.example.test']);
      expect(await records('example.test', 'SOA')).toEqual([
        { mname: 'ns1.example.test', rname: 'hostmaster.example.test', serial: 7, refresh: 1, retry: 2, expire: 3, minimum: 4 },
      ]);
      expect(await records('example.test', 'DNSKEY')).toEqual([{ flags: 257, algorithm: 13, key: 'AQID' }]);
      expect(await records('example.test', 'DS')).toEqual([{ keyTag: 12345, algorithm: 13, digestType: 2, digest: 'abcdef' }]);
      expect(await records('_25._tcp.mx1.example.test', 'TLSA')).toEqual([{ usage: 3, selector: 1, matchingType: 1, data: '00ff' }]);
      expect(await records('_submission._tcp.example.test', 'SRV')).toEqual([{ name: 'smtp.example.test', port: 587, priority: 0, weight: 5 }]);
      expect(await records('1.2.0.192.in-addr.arpa', 'PTR')).toEqual(['mail.example.test']);
      expect(dns.queries.every((q) => q.transport === protocol)).toBe(true);
    });

    it('should ask internationalised names in punycode', async () => {
      dns.setRecords('xn--bcher-kva.example.test', 'A', ['192.0.2.8']);
      await expect(resolver(protocol).resolve('Bücher.example.test', 'A')).resolves.toMatchObject({ ok: true, name: 'xn--bcher-kva.example.test', records: ['192.0.2.8'] });
    });

    it('should randomise query ids and source ports', async () => {
      dns.setRecords('*.example.test', 'A', ['192.0.2.1']);
      const r = resolver(protocol);
      for (let i = 0; i < 16; i++) await r.resolve(`n${i}.example.test`, 'A');
      const ids = new Set(dns.queries.map((q) => q.id));
      const ports = new Set(dns.queries.map((q) => q.sourcePort));
      // 16 draws from 65,536 ids collide with probability < 0.2%; never all the same.
      expect(ids.size).toBeGreaterThanOrEqual(15);
      expect(ports.size).toBeGreaterThan(1);
    });

    it('should tell NXDOMAIN from NODATA and cache both for the negative TTL of the SOA', async () => {
      let now = 1_000_000;
      dns.setSoa('example.test', 30, 300).setRecords('exists.example.test', 'TXT', ['x']);
      const r = resolver(protocol, { now: () => now, attempts: 3 });
      await expect(r.resolve('missing.example.test', 'A')).resolves.toMatchObject({ ok: false, error: 'nxdomain', cause: expect.stringContaining('NXDOMAIN') });
      await expect(r.resolve('exists.example.test', 'A')).resolves.toMatchObject({ ok: false, error: 'nodata' });
      expect(dns.queryCount()).toBe(2);
      now += 29_000;
      await r.resolve('missing.example.test', 'A');
      await r.resolve('exists.example.test', 'A');
      expect(dns.queryCount()).toBe(2);
      now += 2_000;
      await r.resolve('missing.example.test', 'A');
      expect(dns.queryCount()).toBe(3);
    });

    it('should drop an answer with a mismatched id and take the real one that follows', async () => {
      dns.setRecords('a.example.test', 'A', ['192.0.2.1']).setFault('a.example.test', { mismatch: 'id', thenAnswer: true });
      await expect(resolver(protocol).resolve('a.example.test', 'A')).resolves.toMatchObject({ ok: true, records: ['192.0.2.1'] });
    });

    it.each(['id', 'question'] as const)('should time out when only answers with a mismatched %s arrive, and say so', async (mismatch) => {
      dns.setRecords('a.example.test', 'A', ['192.0.2.1']).setFault('*', { mismatch });
      const answer = await resolver(protocol, { timeoutMs: 300 }).resolve('a.example.test', 'A');
      expect(answer).toMatchObject({ ok: false, error: 'timeout' });
      expect(!answer.ok && answer.cause).toContain(mismatch === 'id' ? 'dropped 1 non-matching answer: an answer with id' : 'question for forged.');
    });

    it('should fail over from a server that drops queries to one that answers', async () => {
      dns.setFault('*', { drop: true });
      backup.setRecords('a.example.test', 'A', ['192.0.2.9']);
      const r = resolver(protocol, { servers: [address(dns, protocol), address(backup, protocol)], timeoutMs: 200, attempts: 2 });
      await expect(r.resolve('a.example.test', 'A')).resolves.toMatchObject({ ok: true, records: ['192.0.2.9'] });
      expect(dns.queryCount()).toBe(1);
      expect(backup.queryCount()).toBe(1);
    });

    it('should start the next lookups at the server that answered last', async () => {
      dns.setFault('*', { drop: true });
      backup.setRecords('*.example.test', 'A', ['192.0.2.9']);
      const r = resolver(protocol, { servers: [address(dns, protocol), address(backup, protocol)], timeoutMs: 200, attempts: 2 });
      for (const n of ['a', 'b', 'c']) await expect(r.resolve(`${n}.example.test`, 'A')).resolves.toMatchObject({ ok: true });
      expect(dns.queryCount()).toBe(1);
      expect(backup.queryCount()).toBe(3);
    });

    it('should retry SERVFAIL and REFUSED on the next server and report the last cause when all fail', async () => {
      dns.setFault('*', { rcode: 'SERVFAIL' });
      backup.setFault('*', { rcode: 'REFUSED' });
      const r = resolver(protocol, { servers: [address(dns, protocol), address(backup, protocol)], attempts: 2 });
      const answer = await r.resolve('a.example.test', 'A');
      expect(answer).toMatchObject({ ok: false, error: 'refused', cause: expect.stringContaining('REFUSED') });
      expect(!answer.ok && answer.cause).toContain('SERVFAIL');
    });

    it('should keep the real cause of a refused connection', async () => {
      const closed = await FakeDnsServer.start({ host: '127.0.0.43', http: false });
      const dead = address(closed, protocol);
      await closed.close();
      const answer = await resolver(protocol, { servers: [dead] }).resolve('a.example.test', 'A');
      expect(answer).toMatchObject({ ok: false, error: 'transport', cause: expect.stringContaining('ECONNREFUSED') });
    });

    it('should follow a CNAME the resolver did not chase, as unbound answers local data', async () => {
      dns.setZone({ 'alias.example.test': { CNAME: ['mid.example.test'] }, 'mid.example.test': { CNAME: ['real.example.test'] }, 'real.example.test': { A: ['192.0.2.7'] } });
      dns.setFault('*', { cnameOnly: true });
      const answer = await resolver(protocol).resolve('alias.example.test', 'A');
      expect(answer).toMatchObject({ ok: true, name: 'alias.example.test', records: ['192.0.2.7'] });
      expect(dns.queries.map((q) => q.name)).toEqual(['alias.example.test', 'mid.example.test', 'real.example.test']);
    });

    it('should report a CNAME loop across answers as a fact about the name, and cache it', async () => {
      dns.setZone({ 'a.example.test': { CNAME: ['b.example.test'] }, 'b.example.test': { CNAME: ['a.example.test'] } }).setFault('*', { cnameOnly: true });
      const r = resolver(protocol);
      const answer = await r.resolve('a.example.test', 'MX');
      expect(answer).toMatchObject({ ok: false, error: 'cname_loop', cause: expect.stringContaining('a.example.test → b.example.test → a.example.test') });
      await r.resolve('a.example.test', 'MX');
      expect(dns.queryCount()).toBe(2);
    });

    it('should report a CNAME loop inside one answer', async () => {
      dns.setZone({ 'a.example.test': { CNAME: ['b.example.test'] }, 'b.example.test': { CNAME: ['a.example.test'] } });
      await expect(resolver(protocol).resolve('a.example.test', 'A')).resolves.toMatchObject({ ok: false, error: 'cname_loop' });
      expect(dns.queryCount()).toBe(1);
    });

    it('should give up after 8 extra lookups on a CNAME chain that never ends', async () => {
      for (let i = 0; i < 12; i++) dns.setRecords(`c${i}.example.test`, 'CNAME', [`c${i + 1}.example.test`]);
      dns.setFault('*', { cnameOnly: true });
      const answer = await resolver(protocol).resolve('c0.example.test', 'A');
      expect(answer).toMatchObject({ ok: false, error: 'cname_loop', cause: expect.stringContaining('longer than 8') });
      expect(dns.queryCount()).toBe(9);
    });

    it('should answer nodata without another lookup when the chain ends with the SOA of the target zone', async () => {
      dns.setSoa('example.test', 30).setZone({ 'alias.example.test': { CNAME: ['real.example.test'] }, 'real.example.test': { TXT: ['x'] } });
      await expect(resolver(protocol).resolve('alias.example.test', 'A')).resolves.toMatchObject({
        ok: false,
        error: 'nodata',
        cause: expect.stringContaining('real.example.test has no A record'),
      });
      expect(dns.queryCount()).toBe(1);
    });

    it('should set DO and report AD, rcode and CD as sent', async () => {
      dns.setRecords('signed.example.test', 'A', ['192.0.2.1']).setDnssec('signed.example.test', 'secure');
      const r = resolver(protocol);
      await expect(r.resolve('signed.example.test', 'A', { dnssec: true })).resolves.toMatchObject({
        ok: true,
        dnssec: { authenticated: true, checkingDisabled: false, rcode: 'NOERROR', ede: [] },
      });
      expect(dns.queries[0]).toMatchObject({ dnssecOk: true, checkingDisabled: false });
      const plain = await r.resolve('signed.example.test', 'A');
      expect(plain).not.toHaveProperty('dnssec');
      expect(dns.queries[1]).toMatchObject({ dnssecOk: false });
    });

    it('should tell bogus data by SERVFAIL with an extended error at CD=0 and the data at CD=1, never sharing a cache entry', async () => {
      dns.setRecords('bogus.example.test', 'A', ['192.0.2.66']).setDnssec('bogus.example.test', 'bogus');
      const r = resolver(protocol, { attempts: 1 });
      const validated = await r.resolve('bogus.example.test', 'A', { dnssec: true });
      expect(validated).toMatchObject({
        ok: false,
        error: 'servfail',
        dnssec: { authenticated: false, checkingDisabled: false, rcode: 'SERVFAIL', ede: [{ code: 6, text: expect.stringContaining('validation failure') }] },
      });
      expect(!validated.ok && validated.cause).toContain('extended error 6');
      const unchecked = await r.resolve('bogus.example.test', 'A', { dnssec: true, checkingDisabled: true });
      expect(unchecked).toMatchObject({ ok: true, records: ['192.0.2.66'], dnssec: { authenticated: false, checkingDisabled: true, rcode: 'NOERROR' } });
      expect(dns.queries[1]).toMatchObject({ checkingDisabled: true });
      // Both cached apart: asking again costs nothing and keeps each answer.
      await expect(r.resolve('bogus.example.test', 'A', { dnssec: true, checkingDisabled: true })).resolves.toMatchObject({ ok: true });
      await expect(r.resolve('bogus.example.test', 'A', { dnssec: true })).resolves.toMatchObject({ ok: false, error: 'servfail' });
      expect(dns.queryCount()).toBe(3); // SERVFAIL is never cached
      expect(r.stats().cacheHits).toBe(1);
    });

    it('should only call a CNAME chain authenticated when every answer of it was', async () => {
      dns.setZone({ 'alias.signed.test': { CNAME: ['host.unsigned.test'] }, 'host.unsigned.test': { A: ['192.0.2.5'] } });
      dns.setDnssec('signed.test', 'secure').setFault('*', { cnameOnly: true });
      await expect(resolver(protocol).resolve('alias.signed.test', 'A', { dnssec: true })).resolves.toMatchObject({
        ok: true,
        records: ['192.0.2.5'],
        dnssec: { authenticated: false },
      });
      dns.setDnssec('unsigned.test', 'secure');
      await expect(resolver(protocol).resolve('alias.signed.test', 'A', { dnssec: true })).resolves.toMatchObject({ dnssec: { authenticated: true } });
    });

    it('should send one query for identical lookups in flight together', async () => {
      dns.setRecords('a.example.test', 'A', ['192.0.2.1']).setFault('*', { delayMs: 50 });
      const r = resolver(protocol);
      const answers = await Promise.all([1, 2, 3].map(() => r.resolve('a.example.test', 'A')));
      expect(answers.every((a) => a.ok)).toBe(true);
      expect(dns.queryCount()).toBe(1);
      expect(r.stats()).toMatchObject({ queries: 1, coalesced: 2 });
    });

    it('should reject when the caller aborts, leaving no socket behind', async () => {
      dns.setFault('*', { drop: true });
      const sockets = () => process.getActiveResourcesInfo().filter((r) => r === 'UDPWrap' || r === 'TCPSocketWrap' || r === 'Timeout').length;
      const before = sockets();
      const controller = new AbortController();
      const pending = resolver(protocol, { timeoutMs: 5000 }).resolve('a.example.test', 'A', { signal: controller.signal });
      setTimeout(() => controller.abort(new Error('check cancelled')), 50);
      await expect(pending).rejects.toThrow('check cancelled');
      await new Promise((r) => setImmediate(r));
      expect(sockets()).toBeLessThanOrEqual(before);
    });
  });

  it('should wait on one caller signal with any number of concurrent lookups without a listener-leak warning', async () => {
    dns.setRecords('*.example.test', 'A', ['192.0.2.1']);
    const warnings: string[] = [];
    const onWarning = (w: Error) => warnings.push(w.name);
    process.on('warning', onWarning);
    try {
      const controller = new AbortController();
      const r = resolver('udp');
      const answers = await Promise.all(Array.from({ length: 40 }, (_, i) => r.resolve(`n${i}.example.test`, 'A', { signal: controller.signal })));
      expect(answers.every((a) => a.ok)).toBe(true);
      await new Promise((res) => setImmediate(res));
      expect(warnings).not.toContain('MaxListenersExceededWarning');
    } finally {
      process.off('warning', onWarning);
    }
  });

  describe('truncation', () => {
    it('should ask again over TCP when the UDP answer is truncated', async () => {
      dns.setRecords('a.example.test', 'A', ['192.0.2.1']).setFault('a.example.test', { truncate: true });
      const r = resolver('udp');
      await expect(r.resolve('a.example.test', 'A')).resolves.toMatchObject({ ok: true, records: ['192.0.2.1'] });
      expect(dns.queries.map((q) => [q.transport, q.outcome])).toEqual([
        ['udp', 'TRUNCATED'],
        ['tcp', 'NOERROR'],
      ]);
      expect(r.tcpFallbacks).toBe(1);
      expect(r.stats().queries).toBe(2);
    });

    it('should advertise a 1232-byte EDNS0 buffer and fall back to TCP for a larger answer', async () => {
      const big = Array.from({ length: 12 }, (_, i) => `${'x'.repeat(120)}${i}`);
      dns.setRecords('big.example.test', 'TXT', big);
      const answer = await resolver('udp').resolve('big.example.test', 'TXT');
      expect(answer).toMatchObject({ ok: true, records: big });
      expect(dns.queries[0]).toMatchObject({ transport: 'udp', udpPayloadSize: 1232, outcome: 'TRUNCATED' });
      expect(dns.queries[1]).toMatchObject({ transport: 'tcp', outcome: 'NOERROR' });
    });

    it('should report a truncated answer whose TCP retry fails, with both causes', async () => {
      const udpOnly = await FakeDnsServer.start({ host: '127.0.0.44', http: false, tcp: false });
      try {
        udpOnly.setRecords('a.example.test', 'A', ['192.0.2.1']).setFault('*', { truncate: true });
        const r = new PlainDnsResolver({ servers: [udpOnly.udpAddress!], protocol: 'udp', timeoutMs: 1000, attempts: 1 });
        const answer = await r.resolve('a.example.test', 'A');
        expect(answer).toMatchObject({ ok: false, error: 'transport', cause: expect.stringMatching(/truncated and TCP failed: .*ECONNREFUSED/) });
      } finally {
        await udpOnly.close();
      }
    });
  });

  describe('hostile servers', () => {
    let tcpServer: Server;
    afterEach(() => tcpServer?.close());

    it('should ignore datagrams from an address it did not ask', async () => {
      dns.setRecords('a.example.test', 'A', ['192.0.2.1']).setFault('*', { delayMs: 100 });
      const r = resolver('udp');
      const pending = r.resolve('a.example.test', 'A');
      await new Promise((res) => setTimeout(res, 30));
      // A spoofer that knows the id and port but not the address: the connected socket filters it.
      const q = dns.queries[0];
      const spoofer = createSocket('udp4');
      await new Promise<void>((res) => spoofer.bind(0, '127.0.0.45', () => res()));
      const { default: packet } = await import('dns-packet');
      const forged = packet.encode({ type: 'response', id: q.id, flags: packet.RECURSION_AVAILABLE, questions: [{ name: 'a.example.test', type: 'A', class: 'IN' }], answers: [{ type: 'A', name: 'a.example.test', ttl: 60, data: '203.0.113.66' }] });
      spoofer.send(forged, q.sourcePort!, '127.0.0.1');
      await expect(pending).resolves.toMatchObject({ ok: true, records: ['192.0.2.1'] });
      spoofer.close();
    });

    it('should report a TCP server that closes without answering as transport', async () => {
      tcpServer = createServer((socket) => socket.once('data', () => socket.end()));
      await new Promise<void>((res) => tcpServer.listen(0, '127.0.0.46', () => res()));
      const port = (tcpServer.address() as { port: number }).port;
      const answer = await resolver('tcp', { servers: [`127.0.0.46:${port}`] }).resolve('a.example.test', 'A');
      expect(answer).toMatchObject({ ok: false, error: 'transport', cause: expect.stringContaining('closed the TCP connection without an answer') });
    });
  });

  describe(parsePlainServer.name, () => {
    it.each([
      ['127.0.0.1', { host: '127.0.0.1', port: 53, family: 4 }],
      ['127.0.0.1:5353', { host: '127.0.0.1', port: 5353, family: 4 }],
      ['::1', { host: '::1', port: 53, family: 6 }],
      ['[2001:db8::1]:5300', { host: '2001:db8::1', port: 5300, family: 6 }],
      ['[::1]', { host: '::1', port: 53, family: 6 }],
    ])('should parse %s', (input, expected) => {
      expect(parsePlainServer(input)).toEqual(expected);
    });

    it.each(['dns.example.test', 'dns.example.test:53', '127.0.0.1:0', '127.0.0.1:70000', ''])('should refuse %j', (input) => {
      expect(() => parsePlainServer(input)).toThrow();
    });
  });
});
