import { generateKeyPairSync } from 'node:crypto';
import { beforeAll, describe, expect, it } from 'vitest';
import type { DomainInput, PlanView } from '../probe-definition.js';
import type { ProbeResult } from '../probe.types.js';
import { MemoryResolver, testContext, type MemoryZone } from '../spf/memory-resolver.fixture.js';
import { DKIM_FINDINGS } from './dkim.findings.js';
import { dkimProbe, probeDkim, type DkimDetails } from './dkim.probe.js';

const D = 'example.test';
const NAME = `s1._domainkey.${D}`;

function rsaKey(bits: number): string {
  return generateKeyPairSync('rsa', { modulusLength: bits }).publicKey.export({ type: 'spki', format: 'der' }).toString('base64');
}

async function probe(zone: MemoryZone, faults: Record<string, 'servfail' | 'timeout'> = {}, selector = 's1') {
  const result = await probeDkim(testContext(new MemoryResolver(zone, faults)), { domain: D, selector });
  for (const o of result.observations) {
    const spec = DKIM_FINDINGS[o.code as keyof typeof DKIM_FINDINGS];
    expect(spec, o.code).toBeDefined();
    for (const [, key] of `${spec.message} ${spec.remediation}`.matchAll(/\{(\w+)\}/g)) expect(o.params[key!], `${o.code} {${key}}`).not.toBeUndefined();
  }
  return result;
}

const codes = (r: ProbeResult<DkimDetails>) => r.observations.map((o) => o.code).sort();

describe(probeDkim.name, () => {
  let rsa2048: string;
  let rsa1024: string;
  let rsa512: string;
  let ed25519: string;

  beforeAll(() => {
    rsa2048 = rsaKey(2048);
    rsa1024 = rsaKey(1024);
    rsa512 = rsaKey(512);
    const spki = generateKeyPairSync('ed25519').publicKey.export({ type: 'spki', format: 'der' });
    ed25519 = spki.subarray(spki.length - 32).toString('base64');
  });

  it('should pass a 2048-bit RSA key, with its size and fingerprint', async () => {
    const r = await probe({ [NAME]: { TXT: [`v=DKIM1; k=rsa; p=${rsa2048}`] } });
    expect(r).toMatchObject({ probe: 'dkim', target: NAME, status: 'pass', observations: [] });
    expect(r.details).toMatchObject({ keyType: 'rsa', bits: 2048, revoked: false, testing: false });
    expect(r.details.fingerprint).toMatch(/^[0-9a-f]{64}$/);
  });

  it('should pass a raw 32-byte ed25519 key (RFC 8463)', async () => {
    const r = await probe({ [NAME]: { TXT: [`v=DKIM1; k=ed25519; p=${ed25519}`] } });
    expect(r.observations).toEqual([]);
    expect(r.details).toMatchObject({ keyType: 'ed25519', bits: 256 });
  });

  it('should follow a CNAME\'d selector and accept a key folded with spaces, without v=', async () => {
    const folded = `${rsa2048.slice(0, 100)} ${rsa2048.slice(100, 200)}\t${rsa2048.slice(200)}`;
    const r = await probe({ [NAME]: { CNAME: ['s1.dkim.provider.test'] }, 's1.dkim.provider.test': { TXT: [`k=rsa; p=${folded}`] } });
    expect(r.observations).toEqual([]);
    expect(r.details.bits).toBe(2048);
  });

  it('should report DKIM_KEY_MISSING for NXDOMAIN and for a name without a key', async () => {
    expect(codes(await probe({}))).toEqual(['DKIM_KEY_MISSING']);
    const r = await probe({ [NAME]: { TXT: ['some other text'] } });
    expect(codes(r)).toEqual(['DKIM_KEY_MISSING']);
    expect(r.status).toBe('fail');
  });

  it.each([
    ['v= not first', (k: string) => `k=rsa; v=DKIM1; p=${k}`, 'first tag'],
    ['a wrong version', (k: string) => `v=DKIM2; p=${k}`, 'DKIM1'],
    ['a broken tag list', (k: string) => `v=DKIM1; k rsa; p=${k}`, 'tag=value'],
    ['no p=', () => 'v=DKIM1; k=rsa', 'missing'],
    ['bad base64', () => 'v=DKIM1; p=abc$def', 'base64'],
    ['bytes that are no RSA key', () => `v=DKIM1; p=${Buffer.alloc(64, 7).toString('base64')}`, 'RSA'],
    ['an unknown key type', (k: string) => `v=DKIM1; k=dsa; p=${k}`, 'key type'],
    ['an ed25519 key of the wrong size', (k: string) => `v=DKIM1; k=ed25519; p=${k}`, '32 bytes'],
    ['a key not for email', (k: string) => `v=DKIM1; s=tlsrpt; p=${k}`, 'not for email'],
  ])('should report DKIM_KEY_INVALID for %s', async (_what, record, problem) => {
    const r = await probe({ [NAME]: { TXT: [record(rsa2048)] } });
    expect(codes(r)).toEqual(['DKIM_KEY_INVALID']);
    expect(String(r.observations[0]!.params.problem)).toContain(problem);
    expect(r.status).toBe('fail');
  });

  it('should report DKIM_KEY_REVOKED as info for an empty p=', async () => {
    const r = await probe({ [NAME]: { TXT: ['v=DKIM1; k=rsa; p='] } });
    expect(codes(r)).toEqual(['DKIM_KEY_REVOKED']);
    expect(r.status).toBe('pass');
  });

  it('should report a 1024-bit key as a warning and a 512-bit key as critical (RFC 8301)', async () => {
    const warn = await probe({ [NAME]: { TXT: [`v=DKIM1; p=${rsa1024}`] } });
    expect(codes(warn)).toEqual(['DKIM_KEY_WEAK']);
    expect(warn.observations[0]!.severity).toBeUndefined();
    expect(warn.status).toBe('warn');
    const crit = await probe({ [NAME]: { TXT: [`v=DKIM1; p=${rsa512}`] } });
    expect(crit.observations[0]).toMatchObject({ code: 'DKIM_KEY_WEAK', severity: 'critical', params: { bits: 512 } });
    expect(crit.status).toBe('fail');
  });

  it('should report DKIM_TESTING as info for t=y', async () => {
    const r = await probe({ [NAME]: { TXT: [`v=DKIM1; t=y:s; p=${rsa2048}`] } });
    expect(codes(r)).toEqual(['DKIM_TESTING']);
    expect(r.status).toBe('pass');
  });

  it.each(['servfail', 'timeout'] as const)('should be untestable with no finding on %s', async (fault) => {
    const r = await probe({ [NAME]: { TXT: ['v=DKIM1; p='] } }, { [NAME]: fault });
    expect(r).toMatchObject({ status: 'untestable', reason: `dns_${fault}`, observations: [] });
  });

  describe('dkimProbe definition', () => {
    const plan = (dkimSelectors: string[]): PlanView => ({
      domain: { name: D, submissionHosts: [], sendingIps: [], dkimSelectors } as DomainInput,
      results: () => [],
      once: (_k, fn) => fn(),
    });

    it('should have one subject per named selector, and none without selectors (never a guess)', async () => {
      const ctx = testContext(new MemoryResolver());
      expect(await dkimProbe.subjects(plan([]), ctx)).toEqual([]);
      expect(await dkimProbe.subjects(plan(['s1', 's2', 's1']), ctx)).toEqual([{ domain: D, selector: 's1' }, { domain: D, selector: 's2' }]);
    });

    it('should contribute the key size per selector', async () => {
      const r = await probe({ [NAME]: { TXT: [`v=DKIM1; p=${rsa1024}`] } });
      expect(dkimProbe.metrics!.series!(r, D)).toEqual([{ metric: 'mxwatch_dkim_key_bits', labels: { domain: D, selector: 's1' }, value: 1024 }]);
    });
  });
});
