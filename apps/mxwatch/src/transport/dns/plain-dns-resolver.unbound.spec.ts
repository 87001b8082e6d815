/**
 * The plain-DNS resolver against a real validating unbound (the DNSSEC rig): the flags and
 * extended errors it reads are the ones a real resolver sends, not only the fake's.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DnssecRig } from '../../../../../test/rig/dnssec/dnssec-rig.js';
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
