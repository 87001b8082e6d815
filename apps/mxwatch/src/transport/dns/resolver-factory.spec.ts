import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FakeDnsServer } from '../../../../../test/rig/dns/fake-dns-server.js';
import { DohResolver } from './doh-resolver.js';
import { PlainDnsResolver } from './plain-dns-resolver.js';
import { createResolver, readSystemNameservers } from './resolver-factory.js';

describe(createResolver.name, () => {
  let dns: FakeDnsServer;
  let dir: string;

  beforeAll(async () => {
    dns = await FakeDnsServer.start({ host: '127.0.0.51', https: true });
    dns.setRecords('a.example.test', 'A', ['192.0.2.1']);
    dir = mkdtempSync(path.join(tmpdir(), 'mxwatch-resolver-factory-'));
  });

  afterAll(async () => {
    await dns.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it.each([
    ['udp', () => dns.udpAddress!],
    ['tcp', () => dns.tcpAddress!],
    ['http', () => dns.httpAddress!],
  ] as const)('should build a working %s resolver', async (protocol, server) => {
    const r = createResolver({ servers: [server()], protocol, timeoutMs: 1000, attempts: 1 });
    expect(r.protocol).toBe(protocol);
    expect(r.servers).toEqual([server()]);
    expect(r).toBeInstanceOf(protocol === 'http' ? DohResolver : PlainDnsResolver);
    await expect(r.resolve('a.example.test', 'A')).resolves.toMatchObject({ ok: true, records: ['192.0.2.1'] });
    r.close();
  });

  it('should trust the PEM bundle of caFile for https', async () => {
    const caFile = path.join(dir, 'ca.pem');
    writeFileSync(caFile, dns.caCert!);
    const trusted = createResolver({ servers: [dns.httpsAddress!], protocol: 'https', timeoutMs: 1000, attempts: 1, caFile });
    await expect(trusted.resolve('a.example.test', 'A')).resolves.toMatchObject({ ok: true });
    const untrusted = createResolver({ servers: [dns.httpsAddress!], protocol: 'https', timeoutMs: 1000, attempts: 1 });
    await expect(untrusted.resolve('a.example.test', 'A')).resolves.toMatchObject({ ok: false, error: 'transport' });
    trusted.close();
    untrusted.close();
  });

  it('should refuse a caFile that cannot be read or holds no certificate', () => {
    const junk = path.join(dir, 'junk.pem');
    writeFileSync(junk, 'not a certificate');
    expect(() => createResolver({ servers: ['127.0.0.1:443'], protocol: 'https', timeoutMs: 1000, attempts: 1, caFile: path.join(dir, 'missing.pem') })).toThrow('missing.pem');
    expect(() => createResolver({ servers: ['127.0.0.1:443'], protocol: 'https', timeoutMs: 1000, attempts: 1, caFile: junk })).toThrow('no PEM certificate');
  });

  it('should read "system" from resolv.conf and speak UDP to it whatever protocol was asked, TCP if asked', () => {
    const conf = path.join(dir, 'resolv.conf');
    writeFileSync(conf, '# generated\nsearch example.test\nnameserver 127.0.0.53\nnameserver fe80::1%eth0\noptions edns0\n');
    const udp = createResolver({ servers: ['system'], protocol: 'https', timeoutMs: 1000, attempts: 1, resolvConfPath: conf });
    expect(udp).toBeInstanceOf(PlainDnsResolver);
    expect({ protocol: udp.protocol, servers: udp.servers }).toEqual({ protocol: 'udp', servers: ['127.0.0.53', '[fe80::1]:53'] });
    const tcp = createResolver({ servers: ['system'], protocol: 'tcp', timeoutMs: 1000, attempts: 1, resolvConfPath: conf });
    expect(tcp.protocol).toBe('tcp');
  });

  it('should refuse a plain DNS server given by name', () => {
    expect(() => createResolver({ servers: ['dns.example.test'], protocol: 'udp', timeoutMs: 1000, attempts: 1 })).toThrow('not an IP address');
  });

  describe(readSystemNameservers.name, () => {
    it('should keep at most three distinct nameservers and fail when there is none', () => {
      const conf = path.join(dir, 'many.conf');
      writeFileSync(conf, ['1', '2', '2', '3', '4'].map((n) => `nameserver 127.0.0.${n}`).join('\n'));
      expect(readSystemNameservers(conf)).toEqual(['127.0.0.1', '127.0.0.2', '127.0.0.3']);
      const empty = path.join(dir, 'empty.conf');
      writeFileSync(empty, 'search example.test\n');
      expect(() => readSystemNameservers(empty)).toThrow('lists no nameserver');
      expect(() => readSystemNameservers(path.join(dir, 'none.conf'))).toThrow('cannot read');
    });
  });
});
