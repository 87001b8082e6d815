import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FakeDnsServer } from '../dns/fake-dns-server.js';
import { DnssecRig } from './dnssec-rig.js';

const run = promisify(execFile);

/** dig's view of one query: status, flags, EDE text, answer rdata. */
async function dig(rig: DnssecRig, name: string, type: string, cd = false): Promise<{ status: string; flags: string[]; ede: string | null; answers: string[] }> {
  const args = [`@${rig.ip}`, '-p', String(rig.port), '+dnssec', '+tries=1', '+time=2', cd ? '+cd' : '+nocd', name, type];
  const { stdout } = await run('dig', args);
  const status = /status: (\w+)/.exec(stdout)?.[1] ?? '?';
  const flags = (/;; flags: ([^;]+);/.exec(stdout)?.[1] ?? '').trim().split(/\s+/);
  const ede = /; EDE: (.*)/.exec(stdout)?.[1] ?? null;
  const answerSection = /;; ANSWER SECTION:\n([\s\S]*?)\n\n/.exec(stdout)?.[1] ?? '';
  const answers = answerSection
    .split('\n')
    .map((l) => l.split(/\s+/))
    .filter((f) => f[3] === type)
    .map((f) => f.slice(4).join(' '));
  return { status, flags, ede, answers };
}

describe(DnssecRig.name, () => {
  let rig: DnssecRig;

  beforeAll(async () => {
    rig = await DnssecRig.start({
      zones: [
        { name: 'secure.test', signed: true, records: ['@ IN MX 10 mx', 'mx IN A 192.0.2.25', '_25._tcp.mx IN TLSA 3 1 1 ' + 'ab'.repeat(32)] },
        { name: 'bogus.test', signed: true, records: ['@ IN MX 10 mx', 'mx IN A 192.0.2.26'], bogus: ['mx.bogus.test. 1 IN A 192.0.2.99'] },
        { name: 'plain.test', signed: false, records: ['@ IN MX 10 mx', 'mx IN A 192.0.2.27'] },
      ],
    });
  });

  afterAll(async () => {
    await rig?.close();
  });

  it('should answer names of a signed zone with AD set', async () => {
    const mx = await dig(rig, 'secure.test', 'MX');
    expect(mx).toMatchObject({ status: 'NOERROR', answers: ['10 mx.secure.test.'] });
    expect(mx.flags).toContain('ad');
    const tlsa = await dig(rig, '_25._tcp.mx.secure.test', 'TLSA');
    expect(tlsa.flags).toContain('ad');
    expect(tlsa.answers[0]!.replace(/\s/g, '')).toBe(`311${'ab'.repeat(32).toUpperCase()}`);
  });

  it('should fail a tampered record with SERVFAIL and a DNSSEC Bogus EDE, and give the data with CD', async () => {
    const bogus = await dig(rig, 'mx.bogus.test', 'A');
    expect(bogus.status).toBe('SERVFAIL');
    expect(bogus.ede).toMatch(/^6 \(DNSSEC Bogus\)/);
    const cd = await dig(rig, 'mx.bogus.test', 'A', true);
    expect(cd).toMatchObject({ status: 'NOERROR', answers: ['192.0.2.99'] });
    const sibling = await dig(rig, 'bogus.test', 'MX');
    expect(sibling.flags).toContain('ad');
  });

  it('should answer an unsigned zone without AD', async () => {
    const plain = await dig(rig, 'mx.plain.test', 'A');
    expect(plain).toMatchObject({ status: 'NOERROR', answers: ['192.0.2.27'] });
    expect(plain.flags).not.toContain('ad');
  });

  it('should answer NXDOMAIN for names outside its zones (nothing leaves loopback)', async () => {
    expect((await dig(rig, 'example.com', 'A')).status).toBe('NXDOMAIN');
  });

  it('should serve changed zones after setZones, with the same trust anchors', async () => {
    const ds = rig.ds('secure.test');
    await rig.setZones([
      { name: 'secure.test', signed: true, records: ['@ IN MX 10 mx2', 'mx2 IN A 192.0.2.30'] },
      { name: 'bogus.test', signed: true, records: ['@ IN MX 10 mx'], bogus: ['bogus.test. 1 IN MX 20 evil.example.'] },
    ]);
    expect(rig.ds('secure.test')).toBe(ds);
    const mx = await dig(rig, 'secure.test', 'MX');
    expect(mx.answers).toEqual(['10 mx2.secure.test.']);
    expect(mx.flags).toContain('ad');
    expect((await dig(rig, 'bogus.test', 'MX')).status).toBe('SERVFAIL');
    expect((await dig(rig, 'mx.plain.test', 'A')).status).toBe('NXDOMAIN');
  });
});

describe(`${DnssecRig.name} without validation`, () => {
  it('should answer bogus data without SERVFAIL and without AD when the validator is off', async () => {
    const rig = await DnssecRig.start({
      validating: false,
      zones: [
        { name: 'secure.test', signed: true, records: ['mx IN A 192.0.2.25'] },
        { name: 'bogus.test', signed: true, records: ['mx IN A 192.0.2.26'], bogus: ['mx.bogus.test. 1 IN A 192.0.2.99'] },
      ],
    });
    try {
      const secure = await dig(rig, 'mx.secure.test', 'A');
      expect(secure.flags).not.toContain('ad');
      expect(await dig(rig, 'mx.bogus.test', 'A')).toMatchObject({ status: 'NOERROR', answers: ['192.0.2.99'] });
    } finally {
      await rig.close();
    }
  });
});

describe(`${DnssecRig.name} in front of the fake DNS`, () => {
  it('should forward other names to it (insecure) while its signed zones below stay secure', async () => {
    const fake = await FakeDnsServer.start({ host: '127.0.0.1', http: false, udp: true, defaultTtl: 0 });
    fake.setRecords('mx.elsewhere.test', 'A', ['192.0.2.77']);
    const rig = await DnssecRig.start({
      zones: [{ name: 'signed.test', signed: true, records: ['mx IN A 192.0.2.78'] }],
      forward: { suffixes: ['test'], server: fake.udpAddress!.replace(':', '@') },
    });
    try {
      const forwarded = await dig(rig, 'mx.elsewhere.test', 'A');
      expect(forwarded).toMatchObject({ status: 'NOERROR', answers: ['192.0.2.77'] });
      expect(forwarded.flags).not.toContain('ad');
      const signed = await dig(rig, 'mx.signed.test', 'A');
      expect(signed).toMatchObject({ status: 'NOERROR', answers: ['192.0.2.78'] });
      expect(signed.flags).toContain('ad');
    } finally {
      await rig.close();
      await fake.close();
    }
  });
});
