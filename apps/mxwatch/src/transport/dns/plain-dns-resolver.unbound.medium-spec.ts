/**
 * The plain-DNS resolver against a real validating unbound (the DNSSEC rig): the flags and
 * extended errors it reads are the ones a real resolver sends, not only the fake's.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DnssecRig } from '../../../../../test/rig/dnssec/dnssec-rig.js';
import { DohResolver } from './doh-resolver.js';
import { PlainDnsResolver } from './plain-dns-resolver.js';

describe(`${PlainDnsResolver.name} against unbound`, () => {
  let rig: DnssecRig;

  beforeAll(async () => {
    rig = await DnssecRig.start({
      zones: [
        { name: 'secure.test', signed: true, records: ['@ IN MX 10 mx', 'mx IN A 192.0.2.25', 'alias IN CNAME mx', '_25._tcp.mx IN TLSA 3 1 1 ' + 'ab'.repeat(32)] },
        { name: 'bogus.test', signed: true, records: ['@ IN MX 10 mx', 'mx IN A 192.0.2.26'], bogus: ['mx.bogus.test. 1 IN A 192.0.2.99'] },
        { name: 'plain.test', signed: false, records: ['@ IN MX 10 mx', 'mx IN A 192.0.2.27'] },
      ],
    });
  }, 60_000);

  afterAll(async () => {
    await rig?.close();
  });

  describe.each(['udp', 'tcp'] as const)('over %s', (protocol) => {
    const resolver = () => new PlainDnsResolver({ servers: [rig.address], protocol, timeoutMs: 3000, attempts: 2 });

    it('should read AD on a signed zone, and not on an unsigned one', async () => {
      const r = resolver();
      await expect(r.resolve('secure.test', 'MX', { dnssec: true })).resolves.toMatchObject({
        ok: true,
        records: [{ exchange: 'mx.secure.test', priority: 10 }],
        dnssec: { authenticated: true, rcode: 'NOERROR' },
      });
      await expect(r.resolve('_25._tcp.mx.secure.test', 'TLSA', { dnssec: true })).resolves.toMatchObject({
        ok: true,
        records: [{ usage: 3, selector: 1, matchingType: 1, data: 'ab'.repeat(32) }],
        dnssec: { authenticated: true },
      });
      await expect(r.resolve('alias.secure.test', 'A', { dnssec: true })).resolves.toMatchObject({ ok: true, records: ['192.0.2.25'], dnssec: { authenticated: true } });
      await expect(r.resolve('plain.test', 'MX', { dnssec: true })).resolves.toMatchObject({ ok: true, dnssec: { authenticated: false } });
    });

    it('should see bogus data as SERVFAIL with the DNSSEC Bogus extended error, and the data with CD', async () => {
      const r = resolver();
      await expect(r.resolve('mx.bogus.test', 'A', { dnssec: true })).resolves.toMatchObject({
        ok: false,
        error: 'servfail',
        dnssec: { rcode: 'SERVFAIL', checkingDisabled: false, ede: [expect.objectContaining({ code: 6 })] },
      });
      await expect(r.resolve('mx.bogus.test', 'A', { dnssec: true, checkingDisabled: true })).resolves.toMatchObject({
        ok: true,
        records: ['192.0.2.99'],
        dnssec: { authenticated: false, checkingDisabled: true },
      });
    });

    it('should tell NXDOMAIN from NODATA', async () => {
      const r = resolver();
      await expect(r.resolve('missing.secure.test', 'A', { dnssec: true })).resolves.toMatchObject({ ok: false, error: 'nxdomain', dnssec: { authenticated: true } });
      await expect(r.resolve('mx.secure.test', 'AAAA')).resolves.toMatchObject({ ok: false, error: 'nodata' });
    });
  });
});

/**
 * unbound answers a local-data CNAME with the alias alone, even when the target is local data of
 * the same zone (checked with dig, unbound 1.17): the reason the resolver follows CNAMEs itself.
 */
describe(`${PlainDnsResolver.name} against unbound's local data`, () => {
  const ip = '127.0.0.82';
  let dir: string;
  let unbound: ChildProcess;
  let port: number;
  let httpPort: number;

  async function freePort(): Promise<number> {
    const server = createServer();
    await new Promise<void>((resolve) => server.listen(0, ip, () => resolve()));
    const p = (server.address() as { port: number }).port;
    await new Promise<void>((resolve) => server.close(() => resolve()));
    return p;
  }

  beforeAll(async () => {
    dir = mkdtempSync(path.join(tmpdir(), 'mxwatch-unbound-local-'));
    port = await freePort();
    httpPort = await freePort();
    writeFileSync(
      path.join(dir, 'unbound.conf'),
      [
        'server:',
        `  interface: ${ip}@${port}`,
        `  interface: ${ip}@${httpPort}`,
        `  https-port: ${httpPort}`,
        '  http-notls-downstream: yes',
        '  do-daemonize: no',
        '  use-syslog: no',
        '  logfile: ""',
        '  username: ""',
        '  chroot: ""',
        `  directory: "${dir}"`,
        '  pidfile: ""',
        '  do-ip6: no',
        '  access-control: 127.0.0.0/8 allow',
        '  module-config: "iterator"',
        '  local-zone: "local.test." static',
        '  local-data: "alias.local.test. 1 IN CNAME mid.local.test."',
        '  local-data: "mid.local.test. 1 IN CNAME target.local.test."',
        '  local-data: "target.local.test. 1 IN A 192.0.2.44"',
        '  local-data: "loop1.local.test. 1 IN CNAME loop2.local.test."',
        '  local-data: "loop2.local.test. 1 IN CNAME loop1.local.test."',
        'remote-control:',
        '  control-enable: no',
      ].join('\n'),
    );
    unbound = spawn('unbound', ['-d', '-c', path.join(dir, 'unbound.conf')], { stdio: 'ignore' });
    const probe = new PlainDnsResolver({ servers: [`${ip}:${port}`], protocol: 'udp', timeoutMs: 300, attempts: 1, cacheMaxEntries: 0 });
    for (let i = 0; i < 50; i++) {
      const a = await probe.resolve('target.local.test', 'A');
      if (a.ok) return;
      await new Promise((r) => setTimeout(r, 100));
    }
    throw new Error('unbound did not start');
  }, 30_000);

  afterAll(() => {
    unbound?.kill();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it.each(['udp', 'tcp', 'http'] as const)('should follow a chain of local-data CNAMEs to the address and report a loop, over %s', async (protocol) => {
    const r =
      protocol === 'http'
        ? new DohResolver({ servers: [`${ip}:${httpPort}`], protocol: 'http', timeoutMs: 2000, attempts: 1 })
        : new PlainDnsResolver({ servers: [`${ip}:${port}`], protocol, timeoutMs: 2000, attempts: 1 });
    try {
      const alias = await r.resolve('alias.local.test', 'A');
      expect(alias, JSON.stringify(alias)).toMatchObject({ ok: true, name: 'alias.local.test', records: ['192.0.2.44'] });
      await expect(r.resolve('loop1.local.test', 'A')).resolves.toMatchObject({ ok: false, error: 'cname_loop' });
      expect(r.stats().queries).toBeGreaterThanOrEqual(4);
    } finally {
      r.close();
    }
  });
});
