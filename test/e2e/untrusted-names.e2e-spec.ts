import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startApp, type RunningApp } from '../support/app-process.js';
import { createFakeInternet, type FakeInternet } from '../support/fake-internet.js';
import { createTestDatabase } from '../support/postgres.js';

const TOKEN = 'e2e-untrusted-token-0123456789';
const auth = { authorization: `Bearer ${TOKEN}` };

/** What a hostile DNS may publish: names with a NUL byte, addresses that hide a private IPv4. */
describe('untrusted names and addresses end to end', () => {
  let net: FakeInternet;
  let app: RunningApp;
  let db: Awaited<ReturnType<typeof createTestDatabase>>;

  beforeAll(async () => {
    net = await createFakeInternet();
    db = await createTestDatabase('mxwatch_e2e_untrusted');
    // An MX name with a NUL byte (legal in DNS) that resolves to a working mail server.
    const nul = await net.addMailDomain('nul.test', { mx: [{ host: 'mx.nul.test' }] });
    net.dns.setZone({ 'nul.test': { MX: [{ preference: 10, exchange: 'mx\u0000evil.nul.test' }] }, 'mx\u0000evil.nul.test': { A: [nul.mx[0]!.ip!] } });
    // An MX whose only address is NAT64 for a private IPv4 address (64:ff9b::10.0.0.1).
    await net.addMailDomain('nat64.test', { mx: [{ host: 'mx.nat64.test', ip: null }] });
    net.dns.setZone({ 'mx.nat64.test': { AAAA: ['64:ff9b::a00:1'] } });
    app = await startApp({ ...net.env, DATABASE_URL: db.url, MXWATCH_API_TOKEN: TOKEN, MXWATCH_SCHEDULER: 'false', MXWATCH_ALERT_AFTER: '1' });
    for (const name of ['nul.test', 'nat64.test']) expect((await app.api('POST', '/api/v1/domains', { name }, auth)).status).toBe(201);
  });

  afterAll(async () => {
    await app?.stop();
    await db?.drop();
    await net?.close();
  });

  it('should store every run of a domain whose MX name holds a NUL, and keep its findings stable', async () => {
    for (let run = 0; run < 2; run++) {
      const r = await app.api('POST', '/api/v1/domains/nul.test/check', undefined, auth);
      expect(r.status, r.text).toBe(200);
      const mx = r.body.results.find((x: { probe: string }) => x.probe === 'mx');
      expect(JSON.stringify(mx.details)).toContain('mx\u2400evil.nul.test');
    }
    const history = await app.api('GET', '/api/v1/domains/nul.test/checks?probe=mx');
    expect(history.body.items).toHaveLength(2);
    const status = await app.api('GET', '/api/v1/domains/nul.test/status');
    expect(status.status).toBe(200);
    // One finding per target however many runs: the lifecycle recognised the NUL target again.
    const open = status.body.openFindings as Array<{ code: string; target: string }>;
    const keys = open.map((f) => `${f.code} ${f.target}`);
    expect(new Set(keys).size).toBe(keys.length);
    expect(keys.filter((k) => k.includes('\u2400')).length, keys.join('\n')).toBeGreaterThan(0);
    expect(app.output()).not.toMatch(/22P05|unsupported Unicode escape/);
  });

  it('should refuse to dial a NAT64 address that carries a private IPv4 address, and say why', async () => {
    const r = await app.api('POST', '/api/v1/domains/nat64.test/check', undefined, auth);
    expect(r.status, r.text).toBe(200);
    const observed = r.body.findings.observed as Array<{ code: string; message: string }>;
    expect(observed).toContainEqual(
      expect.objectContaining({ code: 'MX_TARGET_PRIVATE_IP', message: 'MX target mx.nat64.test resolves to 64:ff9b::a00:1, a private (10.0.0.1 embedded by nat64) address' }),
    );
    const smtp = (r.body.results as Array<{ probe: string; target: string }>).filter((x) => x.probe === 'smtp' && x.target.includes('64:ff9b'));
    expect(smtp).toEqual([]);
  });
});
