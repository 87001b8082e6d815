import { createSocket } from 'node:dgram';
import { request as httpsRequest } from 'node:https';
import { connect } from 'node:net';
import packet from 'dns-packet';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { FakeDnsServer } from './fake-dns-server.js';

function query(name: string, type: packet.RecordType, id = 0, edns?: { do?: boolean; cd?: boolean; size?: number }): Buffer {
  return packet.encode({
    type: 'query',
    id,
    flags: packet.RECURSION_DESIRED | (edns?.cd ? packet.CHECKING_DISABLED : 0),
    questions: [{ type, name }],
    additionals: edns ? [{ type: 'OPT', name: '.', udpPayloadSize: edns.size ?? 1232, flags: edns.do ? packet.DNSSEC_OK : 0, options: [] } as unknown as packet.Answer] : [],
  });
}

/** Every message the server sends back on one UDP query within `windowMs`. */
function udpAll(address: string, wire: Buffer, windowMs = 150): Promise<packet.DecodedPacket[]> {
  const [host, port] = address.split(':');
  return new Promise((resolve) => {
    const socket = createSocket('udp4');
    const got: packet.DecodedPacket[] = [];
    socket.on('message', (msg) => got.push(packet.decode(msg)));
    setTimeout(() => {
      socket.close();
      resolve(got);
    }, windowMs);
    socket.send(wire, Number(port), host);
  });
}

/** Every message the server sends back on one TCP query within `windowMs`. */
function tcpAll(address: string, wire: Buffer, windowMs = 150): Promise<packet.DecodedPacket[]> {
  const [host, port] = address.split(':');
  return new Promise((resolve) => {
    const socket = connect({ host, port: Number(port) });
    let buffered = Buffer.alloc(0);
    const got: packet.DecodedPacket[] = [];
    socket.on('data', (chunk) => {
      buffered = Buffer.concat([buffered, chunk]);
      while (buffered.length >= 2 && buffered.length >= 2 + buffered.readUInt16BE(0)) {
        const n = buffered.readUInt16BE(0);
        got.push(packet.decode(buffered.subarray(2, 2 + n)));
        buffered = buffered.subarray(2 + n);
      }
    });
    const frame = Buffer.alloc(2 + wire.length);
    frame.writeUInt16BE(wire.length, 0);
    wire.copy(frame, 2);
    socket.write(frame);
    setTimeout(() => {
      socket.destroy();
      resolve(got);
    }, windowMs);
  });
}

async function doh(url: string, name: string, type: packet.RecordType, method: 'GET' | 'POST' = 'GET'): Promise<{ status: number; msg: packet.Packet | null }> {
  const wire = query(name, type);
  const res =
    method === 'GET'
      ? await fetch(`${url}?dns=${wire.toString('base64url')}`, { headers: { accept: 'application/dns-message' } })
      : await fetch(url, { method: 'POST', headers: { 'content-type': 'application/dns-message' }, body: wire });
  const body = Buffer.from(await res.arrayBuffer());
  return { status: res.status, msg: res.ok ? packet.decode(body) : null };
}

function udp(address: string, name: string, type: packet.RecordType, timeoutMs = 500): Promise<packet.Packet | null> {
  const [host, port] = address.split(':');
  return new Promise((resolve) => {
    const socket = createSocket('udp4');
    const timer = setTimeout(() => {
      socket.close();
      resolve(null);
    }, timeoutMs);
    socket.on('message', (msg) => {
      clearTimeout(timer);
      socket.close();
      resolve(packet.decode(msg));
    });
    socket.send(query(name, type, 4242), Number(port), host);
  });
}

describe(FakeDnsServer.name, () => {
  let dns: FakeDnsServer;

  beforeAll(async () => {
    dns = await FakeDnsServer.start({ host: '127.0.0.5', https: true });
    expect(dns.httpAddress).toMatch(/^127\.0\.0\.5:\d+$/);
    expect(dns.httpsAddress).toMatch(/^127\.0\.0\.5:\d+$/);
    expect(dns.udpAddress).toMatch(/^127\.0\.0\.5:\d+$/);
    // One port for UDP and TCP, as a real resolver: the TCP fallback goes where the UDP query went.
    expect(dns.tcpAddress).toBe(dns.udpAddress);
  });

  afterEach(() => {
    dns.reset();
  });

  afterAll(async () => {
    await dns.close();
  });

  it('should refuse to bind outside the loopback range', async () => {
    await expect(FakeDnsServer.start({ host: '0.0.0.0' })).rejects.toThrow('loopback only');
  });

  it('should answer DoH GET and POST with the records, TTL and rcode NOERROR', async () => {
    dns.setRecords('Host.Example.Test.', 'A', ['192.0.2.1'], 42);
    for (const method of ['GET', 'POST'] as const) {
      const { status, msg } = await doh(dns.url(), 'host.example.test', 'A', method);
      expect(status).toBe(200);
      expect(msg).toMatchObject({ rcode: 'NOERROR', answers: [{ name: 'host.example.test', type: 'A', ttl: 42, data: '192.0.2.1' }] });
    }
    expect(dns.queries.map((q) => q.method)).toEqual(['GET', 'POST']);
  });

  it('should answer over UDP with the query id', async () => {
    dns.setZone({ 'example.test': { MX: [{ preference: 10, exchange: 'mx.example.test' }], TXT: [['v=spf1 ', '-all']] } });
    const mx = await udp(dns.udpAddress!, 'example.test', 'MX');
    expect(mx).toMatchObject({ id: 4242, rcode: 'NOERROR', answers: [{ type: 'MX', data: { preference: 10, exchange: 'mx.example.test' } }] });
    const txt = await udp(dns.udpAddress!, 'example.test', 'TXT');
    expect((txt!.answers![0] as packet.TxtAnswer).data).toEqual([Buffer.from('v=spf1 '), Buffer.from('-all')]);
  });

  it('should answer HTTPS with a certificate issued by its test CA', async () => {
    dns.setRecords('a.example.test', 'A', ['192.0.2.1']);
    const wire = query('a.example.test', 'A');
    const [host, port] = dns.httpsAddress!.split(':');
    const body = await new Promise<Buffer>((resolve, reject) => {
      const req = httpsRequest({ host, port, path: '/dns-query', method: 'POST', ca: dns.caCert!, headers: { 'content-type': 'application/dns-message' } }, (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c) => chunks.push(c));
        res.on('end', () => resolve(Buffer.concat(chunks)));
      });
      req.on('error', reject);
      req.end(wire);
    });
    expect(packet.decode(body)).toMatchObject({ answers: [{ data: '192.0.2.1' }] });
    expect(dns.queries[0].transport).toBe('https');
  });

  it('should tell NXDOMAIN from NODATA, empty non-terminals included, with the SOA in authority', async () => {
    dns.setSoa('example.test', 30, 300).setRecords('a.b.example.test', 'A', ['192.0.2.1']);
    const nx = await udp(dns.udpAddress!, 'missing.example.test', 'A');
    expect(nx).toMatchObject({ rcode: 'NXDOMAIN', answers: [], authorities: [{ type: 'SOA', name: 'example.test', data: { minimum: 30 } }] });
    const ent = await udp(dns.udpAddress!, 'b.example.test', 'A');
    expect(ent).toMatchObject({ rcode: 'NOERROR', answers: [], authorities: [{ type: 'SOA' }] });
    const nodata = await udp(dns.udpAddress!, 'a.b.example.test', 'AAAA');
    expect(nodata).toMatchObject({ rcode: 'NOERROR', answers: [] });
  });

  it('should chase CNAMEs for other types like a recursive resolver, and answer the CNAME itself for CNAME', async () => {
    dns.setZone({ 'www.example.test': { CNAME: ['web.example.test'] }, 'web.example.test': { CNAME: ['host.example.test'] }, 'host.example.test': { A: ['192.0.2.7'] } });
    const a = await udp(dns.udpAddress!, 'www.example.test', 'A');
    expect(a!.answers!.map((r) => [r.type, r.name, (r as packet.StringAnswer).data])).toEqual([
      ['CNAME', 'www.example.test', 'web.example.test'],
      ['CNAME', 'web.example.test', 'host.example.test'],
      ['A', 'host.example.test', '192.0.2.7'],
    ]);
    const cname = await udp(dns.udpAddress!, 'www.example.test', 'CNAME');
    expect(cname!.answers).toHaveLength(1);
  });

  it('should expand wildcards only for names that do not exist', async () => {
    dns.setRecords('*.bl.test', 'A', ['127.0.0.2']).setRecords('2.0.0.127.bl.test', 'A', ['127.0.0.3']);
    expect(await udp(dns.udpAddress!, '9.9.9.9.bl.test', 'A')).toMatchObject({ answers: [{ name: '9.9.9.9.bl.test', data: '127.0.0.2' }] });
    expect(await udp(dns.udpAddress!, '2.0.0.127.bl.test', 'A')).toMatchObject({ answers: [{ data: '127.0.0.3' }] });
  });

  it('should inject rcode faults for a name and everything below it', async () => {
    dns.setRecords('a.zone.test', 'A', ['192.0.2.1']).setFault('zone.test', { rcode: 'REFUSED' });
    expect(await udp(dns.udpAddress!, 'a.zone.test', 'A')).toMatchObject({ rcode: 'REFUSED', answers: [] });
    dns.setFault('zone.test', { rcode: 'SERVFAIL', times: 1 });
    expect(await udp(dns.udpAddress!, 'a.zone.test', 'A')).toMatchObject({ rcode: 'SERVFAIL' });
    expect(await udp(dns.udpAddress!, 'a.zone.test', 'A')).toMatchObject({ rcode: 'NOERROR' });
    expect(dns.queries.map((q) => q.outcome)).toEqual(['REFUSED', 'SERVFAIL', 'NOERROR']);
  });

  it('should inject HTTP statuses, delays and drops', async () => {
    dns.setFault('*', { httpStatus: 429 });
    expect((await doh(dns.url(), 'a.test', 'A')).status).toBe(429);

    dns.setFault('*', { drop: true, transports: ['udp'] });
    expect(await udp(dns.udpAddress!, 'a.test', 'A', 150)).toBeNull();
    expect((await doh(dns.url(), 'a.test', 'A')).status).toBe(200);

    dns.clearFaults().setFault('slow.test', { delayMs: 200 });
    const order: string[] = [];
    await Promise.all(['slow.test', 'fast.test'].map((n) => doh(dns.url(), n, 'A').then(() => order.push(n))));
    expect(order).toEqual(['fast.test', 'slow.test']);
    expect(dns.queryCount('a.test')).toBe(3);
  });

  it('should draw a fresh delay from a range for every answer', async () => {
    dns.setFault('*', { delayMs: { min: 20, max: 60 } });
    const times = await Promise.all(
      Array.from({ length: 12 }, async (_, i) => {
        const t0 = performance.now();
        await doh(dns.url(), `n${i}.test`, 'A');
        return performance.now() - t0;
      }),
    );
    expect(Math.min(...times)).toBeGreaterThanOrEqual(19);
    expect(new Set(times.map((t) => Math.round(t))).size).toBeGreaterThan(1);
  });

  it('should forget empty non-terminals when the names below them go', async () => {
    dns.setSoa('example.test', 30).setRecords('a.b.example.test', 'A', ['192.0.2.1']);
    expect(await udp(dns.udpAddress!, 'b.example.test', 'A')).toMatchObject({ rcode: 'NOERROR' });
    dns.setRecords('a.b.example.test', 'A', []);
    expect(await udp(dns.udpAddress!, 'b.example.test', 'A')).toMatchObject({ rcode: 'NXDOMAIN' });
    dns.setRecords('a.b.example.test', 'A', ['192.0.2.1']).removeTree('b.example.test');
    expect(await udp(dns.udpAddress!, 'b.example.test', 'A')).toMatchObject({ rcode: 'NXDOMAIN' });
    expect(await udp(dns.udpAddress!, 'example.test', 'A')).toMatchObject({ rcode: 'NOERROR' });
  });

  it('should answer over TCP with length-prefixed messages and the query id', async () => {
    dns.setRecords('a.example.test', 'A', ['192.0.2.1']);
    const [answer] = await tcpAll(dns.tcpAddress!, query('a.example.test', 'A', 777));
    expect(answer).toMatchObject({ id: 777, rcode: 'NOERROR', answers: [{ data: '192.0.2.1' }] });
    expect(dns.queries[0]).toMatchObject({ transport: 'tcp', method: 'TCP', id: 777 });
  });

  it('should serve every record type of the resolver contract', async () => {
    dns.setZone({
      'example.test': { NS: ['ns.example.test'], DS: [{ keyTag: 1, algorithm: 13, digestType: 2, digest: 'aabb' }], DNSKEY: [{ flags: 257, algorithm: 13, key: 'AQID' }] },
      '_25._tcp.mx.example.test': { TLSA: [{ usage: 3, selector: 1, matchingType: 1, data: 'ccdd' }] },
      '1.2.0.192.in-addr.arpa': { PTR: ['mx.example.test'] },
    });
    expect((await udp(dns.udpAddress!, 'example.test', 'DS'))!.answers![0]).toMatchObject({ data: { keyTag: 1, digest: Buffer.from('aabb', 'hex') } });
    expect((await udp(dns.udpAddress!, 'example.test', 'DNSKEY'))!.answers![0]).toMatchObject({ data: { flags: 257, key: Buffer.from([1, 2, 3]) } });
    expect((await udp(dns.udpAddress!, '_25._tcp.mx.example.test', 'TLSA'))!.answers![0]).toMatchObject({ data: { usage: 3, certificate: Buffer.from('ccdd', 'hex') } });
    expect((await udp(dns.udpAddress!, '1.2.0.192.in-addr.arpa', 'PTR'))!.answers![0]).toMatchObject({ data: 'mx.example.test' });
    expect((await udp(dns.udpAddress!, 'example.test', 'NS'))!.answers![0]).toMatchObject({ data: 'ns.example.test' });
  });

  it('should truncate UDP answers on demand or above the client buffer, never TCP ones', async () => {
    dns.setRecords('a.example.test', 'A', ['192.0.2.1']).setFault('a.example.test', { truncate: true });
    const [udpAnswer] = await udpAll(dns.udpAddress!, query('a.example.test', 'A', 1));
    expect(udpAnswer).toMatchObject({ flag_tc: true, answers: [] });
    const [tcpAnswer] = await tcpAll(dns.tcpAddress!, query('a.example.test', 'A', 1));
    expect(tcpAnswer).toMatchObject({ flag_tc: false, answers: [{ data: '192.0.2.1' }] });

    dns.clearFaults().setRecords('big.example.test', 'TXT', Array.from({ length: 6 }, () => 'x'.repeat(200)));
    expect((await udpAll(dns.udpAddress!, query('big.example.test', 'TXT', 2)))[0]).toMatchObject({ flag_tc: true });
    expect((await udpAll(dns.udpAddress!, query('big.example.test', 'TXT', 3, { size: 4096 })))[0]).toMatchObject({ flag_tc: false });
    const small = await FakeDnsServer.start({ host: '127.0.0.5', http: false, tcp: false, udpMaxSize: 600 });
    small.setRecords('big.example.test', 'TXT', Array.from({ length: 6 }, () => 'x'.repeat(200)));
    expect((await udpAll(small.udpAddress!, query('big.example.test', 'TXT', 3, { size: 4096 })))[0]).toMatchObject({ flag_tc: true });
    await small.close();
    expect(dns.queries.map((q) => q.outcome)).toEqual(['TRUNCATED', 'NOERROR', 'TRUNCATED', 'NOERROR']);
  });

  it.each(['udp', 'tcp'] as const)('should forge a mismatched id or question over %s, then answer only when asked to', async (transport) => {
    const send = transport === 'udp' ? udpAll : tcpAll;
    const address = transport === 'udp' ? dns.udpAddress! : dns.tcpAddress!;
    dns.setRecords('a.example.test', 'A', ['192.0.2.1']).setFault('*', { mismatch: 'id' });
    expect((await send(address, query('a.example.test', 'A', 100))).map((m) => m.id)).toEqual([101]);
    dns.setFault('*', { mismatch: 'id', thenAnswer: true });
    expect((await send(address, query('a.example.test', 'A', 65535))).map((m) => m.id)).toEqual([0, 65535]);
    dns.setFault('*', { mismatch: 'question' });
    expect((await send(address, query('a.example.test', 'A', 5))).map((m) => m.questions![0].name)).toEqual(['forged.a.example.test']);
    dns.setFault('*', { drop: true });
    expect(await send(address, query('a.example.test', 'A', 6))).toEqual([]);
  });

  it('should answer only the first CNAME on demand, and hand back a CNAME loop as far as it goes', async () => {
    dns.setZone({ 'www.example.test': { CNAME: ['host.example.test'] }, 'host.example.test': { A: ['192.0.2.7'] } }).setFault('www.example.test', { cnameOnly: true });
    expect(await udp(dns.udpAddress!, 'www.example.test', 'A')).toMatchObject({ rcode: 'NOERROR', answers: [{ type: 'CNAME', data: 'host.example.test' }], authorities: [] });
    dns.clearFaults().setZone({ 'a.loop.test': { CNAME: ['b.loop.test'] }, 'b.loop.test': { CNAME: ['a.loop.test'] } });
    const loop = await udp(dns.udpAddress!, 'a.loop.test', 'A');
    expect(loop!.answers!.map((a) => (a as packet.StringAnswer).data)).toEqual(['b.loop.test', 'a.loop.test']);
  });

  it('should set AD for secure names to DO queries, and hide bogus data behind SERVFAIL + EDE 6 unless CD', async () => {
    dns.setRecords('a.signed.test', 'A', ['192.0.2.1']).setDnssec('signed.test', 'secure');
    dns.setRecords('a.bogus.test', 'A', ['192.0.2.66']).setDnssec('bogus.test', 'bogus');
    const [secure] = await udpAll(dns.udpAddress!, query('a.signed.test', 'A', 1, { do: true }));
    expect(secure).toMatchObject({ flag_ad: true, rcode: 'NOERROR' });
    expect((secure.additionals![0] as packet.OptAnswer).flag_do).toBe(true);
    const [noDo] = await udpAll(dns.udpAddress!, query('a.signed.test', 'A', 1, {}));
    expect(noDo.flag_ad).toBe(false);
    const [bogus] = await udpAll(dns.udpAddress!, query('a.bogus.test', 'A', 2, { do: true }));
    expect(bogus).toMatchObject({ rcode: 'SERVFAIL', answers: [] });
    const ede = (bogus.additionals![0] as packet.OptAnswer).options[0] as { code: number; data: Buffer };
    expect(ede.code).toBe(15);
    expect(ede.data.readUInt16BE(0)).toBe(6);
    const [unchecked] = await udpAll(dns.udpAddress!, query('a.bogus.test', 'A', 3, { do: true, cd: true }));
    expect(unchecked).toMatchObject({ rcode: 'NOERROR', flag_ad: false, flag_cd: true, answers: [{ data: '192.0.2.66' }] });
    expect(dns.queries.map((q) => [q.dnssecOk, q.checkingDisabled])).toEqual([
      [true, false],
      [false, false],
      [true, false],
      [true, true],
    ]);
  });

  it('should stream a huge DoH body slowly and stop when the client hangs up', async () => {
    dns.setFault('*', { hugeBody: { bytes: 4 * 1024 * 1024, chunkBytes: 1024, intervalMs: 5 } });
    const controller = new AbortController();
    const res = await fetch(`${dns.url()}?dns=${query('a.test', 'A').toString('base64url')}`, { signal: controller.signal });
    const reader = res.body!.getReader();
    let received = 0;
    while (received < 8 * 1024) received += (await reader.read()).value!.length;
    controller.abort();
    await new Promise((r) => setTimeout(r, 100));
    const sent = dns.queries[0].bodyBytesSent!;
    await new Promise((r) => setTimeout(r, 100));
    expect(dns.queries[0]).toMatchObject({ outcome: 'HUGE BODY', bodyBytesSent: sent });
    expect(sent).toBeLessThan(4 * 1024 * 1024);
  });

  it('should close while a dropped HTTP request is still pending', async () => {
    const other = await FakeDnsServer.start({ udp: false });
    other.setFault('*', { drop: true });
    const pending = fetch(`${other.url()}?dns=${query('a.test', 'A').toString('base64url')}`).catch((e: Error) => e);
    await new Promise((r) => setTimeout(r, 50));
    await other.close();
    expect(await pending).toBeInstanceOf(Error);
  });
});
