/**
 * What a new user trips on (issue 9 items 13, 14), against the built service on PostgreSQL:
 * pending findings are visible and explained, and domains the YAML file manages cannot be
 * changed over the API behind the file's back.
 */
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createFakeInternet, type FakeInternet } from '../support/fake-internet.js';
import { removeDir, startApp, tempDir, type RunningApp } from '../support/app-process.js';
import { createTestDatabase } from '../support/postgres.js';

const TOKEN = 'e2e-reliability-token-0123456789';
const auth = { authorization: `Bearer ${TOKEN}` };

describe('pending findings and file-managed domains (built service, PostgreSQL)', () => {
  const BROKEN = 'broken.test';
  const FROM_FILE = 'file.test';
  let fake: FakeInternet;
  let db: Awaited<ReturnType<typeof createTestDatabase>>;
  let dir: string;
  let configFile: string;
  let app: RunningApp;

  beforeAll(async () => {
    fake = await createFakeInternet({ dnsblZones: [] });
    await fake.addMailDomain(BROKEN, { mx: [{ host: 'mx.broken.test', behaviour25: 'no-starttls' }] });
    await fake.addMailDomain(FROM_FILE, { mx: [{ host: 'mx.file.test', behaviour25: 'good' }] });
    db = await createTestDatabase();
    dir = tempDir('mxwatch-reliability-');
    configFile = path.join(dir, 'mxwatch.yml');
    writeFileSync(configFile, ['domains:', `  - name: ${FROM_FILE}`, '    labels: { team: mail }', ''].join('\n'));
    app = await startApp({ ...fake.env, DATABASE_URL: db.url, MXWATCH_CONFIG: configFile, MXWATCH_API_TOKEN: TOKEN, MXWATCH_ALERT_AFTER: '2', MXWATCH_SCHEDULER: 'false' });
    const r = await app.api('POST', '/api/v1/domains', { name: BROKEN }, auth);
    expect(r.status, r.text).toBe(201);
  });

  afterAll(async () => {
    await app?.stop();
    await fake?.close();
    await db?.drop();
    if (dir) removeDir(dir);
  });

  it('should say in the first check of a broken domain what is pending and why', async () => {
    const r = await app.api('POST', `/api/v1/domains/${BROKEN}/check`, undefined, auth);
    expect(r.status, r.text).toBe(200);
    const { findings } = r.body;
    expect(findings.open).toEqual([]);
    expect(findings.pending.map((f: { code: string }) => f.code)).toContain('STARTTLS_NOT_OFFERED');
    expect(findings.pending.find((f: { code: string }) => f.code === 'STARTTLS_NOT_OFFERED')).toMatchObject({ status: 'pending', seenRuns: 1, alertAfter: 2, runsUntilOpen: 1 });
    expect(findings.note).toContain('STARTTLS_NOT_OFFERED');
    expect(findings.note).toContain('MXWATCH_ALERT_AFTER=2');
  });

  it('should show pending findings in /status and /findings?status=pending, and not among open ones', async () => {
    const status = await app.api('GET', `/api/v1/domains/${BROKEN}/status`);
    expect(status.status).toBe(200);
    expect(status.body.openFindings).toEqual([]);
    expect(status.body.pendingFindings.map((f: { code: string }) => f.code)).toContain('STARTTLS_NOT_OFFERED');

    const pending = await app.api('GET', '/api/v1/findings?status=pending');
    expect(pending.status, pending.text).toBe(200);
    expect(pending.body.map((f: { domain: string; code: string; status: string }) => [f.domain, f.code, f.status])).toContainEqual([BROKEN, 'STARTTLS_NOT_OFFERED', 'pending']);
    const listed = await app.api('GET', '/api/v1/findings');
    expect(listed.body.filter((f: { status: string }) => f.status === 'pending')).toEqual([]);
    expect((await app.api('GET', '/api/v1/findings?status=bogus')).status).toBe(400);
  });

  it('should open the finding on the second check and then say nothing is pending', async () => {
    const r = await app.api('POST', `/api/v1/domains/${BROKEN}/check`, undefined, auth);
    expect(r.body.findings.opened.map((f: { code: string }) => f.code)).toContain('STARTTLS_NOT_OFFERED');
    expect(r.body.findings.pending.map((f: { code: string }) => f.code)).not.toContain('STARTTLS_NOT_OFFERED');
  });

  it('should refuse PATCH and DELETE of a domain from the YAML file with 409 naming the file', async () => {
    const patch = await app.api('PATCH', `/api/v1/domains/${FROM_FILE}`, { enabled: false }, auth);
    expect(patch.status, patch.text).toBe(409);
    expect(patch.body.message).toContain(configFile);
    const del = await app.api('DELETE', `/api/v1/domains/${FROM_FILE}`, undefined, auth);
    expect(del.status, del.text).toBe(409);
    expect(del.body.message).toContain(configFile);

    const still = await app.api('GET', `/api/v1/domains/${FROM_FILE}`);
    expect(still.body).toMatchObject({ name: FROM_FILE, enabled: true, source: 'config', labels: { team: 'mail' } });
    // Checking it changes nothing about it: allowed.
    expect((await app.api('POST', `/api/v1/domains/${FROM_FILE}/check`, undefined, auth)).status).toBe(200);
    // A domain created over the API is still the API's to change.
    expect((await app.api('PATCH', `/api/v1/domains/${BROKEN}`, { labels: { team: 'web' } }, auth)).status).toBe(200);
  });
});
