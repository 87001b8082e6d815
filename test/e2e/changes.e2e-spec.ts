/**
 * Changes over time (issue 12), against the built service on PostgreSQL and the fake internet:
 * a domain's published policy changes between two checks (an MX host leaves, DMARC goes from
 * reject to none) and mxwatch records the semantic changes, serves them newest first with a
 * cursor, sends one `change` notification and counts them by kind.
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createFakeInternet, type FakeInternet } from '../support/fake-internet.js';
import { startApp, type RunningApp } from '../support/app-process.js';
import { createTestDatabase } from '../support/postgres.js';

const TOKEN = 'e2e-changes-token-0123456789';
const auth = { authorization: `Bearer ${TOKEN}` };
const DOMAIN = 'changes.test';

describe('policy changes over time (built service, PostgreSQL)', () => {
  let fake: FakeInternet;
  let db: Awaited<ReturnType<typeof createTestDatabase>>;
  let app: RunningApp;
  let hook: Server;
  const bodies: any[] = [];

  beforeAll(async () => {
    fake = await createFakeInternet({ dnsblZones: [] });
    await fake.addMailDomain(DOMAIN, { mx: [{ host: 'mx1.changes.test', pref: 10 }, { host: 'mx2.changes.test', pref: 20 }] });
    hook = createServer((req, res) => {
      let body = '';
      req.on('data', (c: Buffer) => (body += c.toString()));
      req.on('end', () => {
        bodies.push(JSON.parse(body));
        res.writeHead(200).end();
      });
    });
    await new Promise<void>((resolve) => hook.listen(0, '127.0.0.1', resolve));
    db = await createTestDatabase();
    app = await startApp({ ...fake.env, DATABASE_URL: db.url, MXWATCH_API_TOKEN: TOKEN, MXWATCH_WEBHOOK_URL: `http://127.0.0.1:${(hook.address() as AddressInfo).port}/hook` });
    expect((await app.api('POST', '/api/v1/domains', { name: DOMAIN }, auth)).status).toBe(201);
  });

  afterAll(async () => {
    await app?.stop();
    await fake?.close();
    await db?.drop();
    hook?.closeAllConnections();
    await new Promise<void>((resolve) => (hook ? hook.close(() => resolve()) : resolve()));
  });

  async function check() {
    const r = await app.api('POST', `/api/v1/domains/${DOMAIN}/check`, undefined, auth);
    expect(r.status, r.text).toBe(200);
    return r.body;
  }

  async function changes(query = '') {
    const r = await app.api('GET', `/api/v1/domains/${DOMAIN}/changes${query}`);
    expect(r.status, r.text).toBe(200);
    return r.body;
  }

  it('should start the history at the first check without calling anything a change', async () => {
    await check();
    await check();
    expect(await changes()).toEqual({ items: [], nextCursor: null });
  });

  it('should record what changed between two checks, semantically, newest first', async () => {
    fake.dns.setRecords(DOMAIN, 'MX', [{ preference: 10, exchange: 'mx1.changes.test' }]);
    fake.dns.setRecords(`_dmarc.${DOMAIN}`, 'TXT', ['v=DMARC1; p=none; rua=mailto:dmarc@changes.test']);
    await check();
    const page = await changes();
    expect(page.items.map((c: { probe: string; kind: string; severity: string; text: string }) => [c.probe, c.kind, c.severity, c.text]).sort()).toEqual([
      ['dmarc', 'dmarc.policy_lowered', 'warning', 'DMARC policy reject → none'],
      ['mx', 'mx.host_removed', 'warning', 'MX mx2.changes.test removed'],
    ]);
    // The same run again shows nothing new.
    await check();
    expect((await changes()).items).toHaveLength(2);

    fake.dns.setRecords(`_dmarc.${DOMAIN}`, 'TXT', ['v=DMARC1; p=quarantine; rua=mailto:dmarc@changes.test']);
    await check();
    const all = await changes();
    expect(all.items[0]).toMatchObject({ kind: 'dmarc.policy_raised', weakening: false, severity: 'info', text: 'DMARC policy none → quarantine' });
    expect(all.items).toHaveLength(3);

    // Cursor paging like the history: stable, no item twice.
    const first = await changes('?limit=2');
    expect(first.items).toHaveLength(2);
    const second = await changes(`?limit=2&cursor=${encodeURIComponent(first.nextCursor)}`);
    expect(second.nextCursor).toBeNull();
    expect([...first.items, ...second.items].map((c: { id: string }) => c.id)).toEqual(all.items.map((c: { id: string }) => c.id));
    expect((await app.api('GET', `/api/v1/domains/${DOMAIN}/changes?cursor=nonsense`)).status).toBe(400);
    expect((await app.api('GET', '/api/v1/domains/unknown.test/changes')).status).toBe(404);
  });

  it('should notify the channels once per run with every change, and count the changes by kind', async () => {
    const deadline = Date.now() + 15_000;
    while (bodies.filter((b) => b.event === 'change').length < 2 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
    const sent = bodies.filter((b) => b.event === 'change');
    expect(sent).toHaveLength(2);
    expect(sent[0]).toMatchObject({ version: 1, event: 'change', domain: DOMAIN, finding: { code: 'POLICY_CHANGED', severity: 'warning' } });
    expect(sent[0].findings.map((f: { event: string; message: string }) => [f.event, f.message]).sort()).toEqual([
      ['change', 'DMARC policy reject → none'],
      ['change', 'MX mx2.changes.test removed'],
    ]);
    expect(sent[1].findings.map((f: { severity: string; message: string }) => [f.severity, f.message])).toEqual([['info', 'DMARC policy none → quarantine']]);

    const metrics = await fetch(`${app.baseUrl}/metrics`).then((r) => r.text());
    expect(metrics).toMatch(/^mxwatch_policy_changes_total\{kind="dmarc\.policy_lowered",weakening="true"\} 1$/m);
    expect(metrics).toMatch(/^mxwatch_policy_changes_total\{kind="mx\.host_removed",weakening="true"\} 1$/m);
    expect(metrics).toMatch(/^mxwatch_policy_changes_total\{kind="dmarc\.policy_raised",weakening="false"\} 1$/m);
  });
});
