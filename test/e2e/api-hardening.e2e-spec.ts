import { existsSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startApp, type RunningApp } from '../support/app-process.js';
import { danglingRefs, type OpenApiDocument, responseSchema, schemaGaps } from '../support/openapi-conformance.js';
import { createTestDatabase } from '../support/postgres.js';

const TOKEN = 'e2e-hardening-token-0123456789';
const auth = { authorization: `Bearer ${TOKEN}` };

/** Hostile and sloppy clients against the real service: every answer a 4xx that says why, never a 500. */
describe('API hardening', () => {
  let app: RunningApp;
  let db: Awaited<ReturnType<typeof createTestDatabase>>;

  beforeAll(async () => {
    db = await createTestDatabase('mxwatch_e2e_hardening');
    app = await startApp({ DATABASE_URL: db.url, MXWATCH_API_TOKEN: TOKEN, MXWATCH_SCHEDULER: 'false', MXWATCH_LOG_LEVEL: 'info' });
  });

  afterAll(async () => {
    await app?.stop();
    await db?.drop();
  });

  const raw = async (method: string, route: string, body: string, contentType?: string) => {
    const r = await fetch(`${app.baseUrl}${route}`, { method, headers: { ...auth, ...(contentType ? { 'content-type': contentType } : {}) }, body });
    const text = await r.text();
    return { status: r.status, text, body: text ? (JSON.parse(text) as { message: string | string[] }) : undefined };
  };

  describe('untrusted text', () => {
    it('should answer 400 naming the field for a NUL in a label, a name or a key', async () => {
      const label = await app.api('POST', '/api/v1/domains', { name: 'nul.example', labels: { team: 'ma\u0000il' } }, auth);
      expect(label.status).toBe(400);
      expect(label.body.message).toEqual(['labels.team contains a NUL character (U+0000), which is not allowed']);
      const name = await app.api('POST', '/api/v1/domains', { name: 'nul\u0000.example' }, auth);
      expect(name.status).toBe(400);
      expect(name.body.message).toEqual(['name contains a NUL character (U+0000), which is not allowed']);
      const key = await app.api('POST', '/api/v1/domains', { name: 'nul.example', labels: { 't\u0000': 'x' } }, auth);
      expect(key.status).toBe(400);
    });

    it('should answer 400 for a NUL in the path or the query', async () => {
      const path = await app.api('GET', '/api/v1/domains/nul%00.example');
      expect(path.status).toBe(400);
      expect(path.body.message).toEqual(['the path contains a NUL character (U+0000), which is not allowed']);
      const query = await app.api('GET', '/api/v1/findings?code=A%00B');
      expect(query.status).toBe(400);
      expect(query.body.message[0]).toMatch(/NUL character/);
    });

    it('should answer 400 for JSON nested 5,000 deep instead of overflowing the stack', async () => {
      const deep = `{"name":"deep.example","labels":${'['.repeat(5000)}${']'.repeat(5000)}}`;
      const r = await raw('POST', '/api/v1/domains', deep, 'application/json');
      expect(r.status).toBe(400);
      expect(r.body!.message).toEqual(['body is nested deeper than 32 levels']);
      const deepPatch = await raw('PATCH', '/api/v1/domains/deep.example', `{"labels":${'{"a":'.repeat(5000)}1${'}'.repeat(5000)}}`, 'application/json');
      expect(deepPatch.status).toBe(400);
    });

    it('should answer 415 for a body that is not JSON, and 400 for broken JSON', async () => {
      const text = await raw('POST', '/api/v1/domains', 'name=plain.example', 'text/plain');
      expect(text.status).toBe(415);
      expect(text.body!.message).toMatch(/request body must be JSON \(Content-Type: application\/json\), not "text\/plain"/);
      expect((await raw('POST', '/api/v1/domains', 'name=form.example', 'application/x-www-form-urlencoded')).status).toBe(415);
      expect((await raw('POST', '/api/v1/domains', '{"name":"x.example"}')).status).toBe(415);
      expect((await raw('POST', '/api/v1/domains', '{"name": "broken.example"', 'application/json')).status).toBe(400);
      expect((await raw('POST', '/api/v1/domains', '{"name":"ok-json.example"}', 'application/json; charset=utf-8')).status).toBe(201);
    });

    it('should never answer 500 to a hostile request', async () => {
      const requests: Array<[string, string, string | undefined, string | undefined]> = [
        ['POST', '/api/v1/domains', '[]', 'application/json'],
        ['POST', '/api/v1/domains', 'null', 'application/json'],
        ['POST', '/api/v1/domains', '"a string"', 'application/json'],
        ['POST', '/api/v1/domains', '{"name":{"$gt":""}}', 'application/json'],
        ['POST', '/api/v1/domains', '{"name":"a.example","__proto__":{"polluted":true}}', 'application/json'],
        ['POST', '/api/v1/domains', '{"name":"a.example","labels":{"constructor":{"prototype":{"x":1}}}}', 'application/json'],
        ['PATCH', '/api/v1/domains/%E0%A4%A', '{}', 'application/json'],
        ['GET', `/api/v1/domains/${'a'.repeat(3000)}`, undefined, undefined],
        ['GET', '/api/v1/domains/x/checks?since=yesterday&limit=-1', undefined, undefined],
        ['GET', '/api/v1/findings?domain=..&limit=1e9', undefined, undefined],
        ['POST', '/api/v1/notifications/test', '{"channel":["a"]}', 'application/json'],
      ];
      for (const [method, route, body, type] of requests) {
        const r = await fetch(`${app.baseUrl}${route}`, { method, headers: { ...auth, ...(type ? { 'content-type': type } : {}) }, body });
        expect(r.status, `${method} ${route}: ${await r.text()}`).toBeLessThan(500);
      }
    });
  });

  describe('consistency', () => {
    it('should filter GET /domains and GET /findings by label=name=value', async () => {
      await app.api('POST', '/api/v1/domains', { name: 'mail-team.example', labels: { team: 'mail', env: 'prod' } }, auth);
      await app.api('POST', '/api/v1/domains', { name: 'web-team.example', labels: { team: 'web', env: 'prod' } }, auth);
      const names = async (q: string) => ((await app.api('GET', `/api/v1/domains?${q}`)).body as Array<{ name: string }>).map((d) => d.name).sort();
      expect(await names('label=team=mail')).toEqual(['mail-team.example']);
      expect(await names('label=env=prod')).toEqual(['mail-team.example', 'web-team.example']);
      expect(await names('label=env=prod&label=team=web')).toEqual(['web-team.example']);
      expect(await names('label=team=nobody')).toEqual([]);
      const findings = await app.api('GET', '/api/v1/findings?label=team=mail');
      expect(findings.status).toBe(200);
      expect(findings.body).toEqual([]);
      for (const route of ['/api/v1/domains?label=team', '/api/v1/findings?label=1bad=x']) {
        const bad = await app.api('GET', route);
        expect(bad.status, route).toBe(400);
        expect(bad.body.message[0]).toMatch(/^label must be name=value/);
      }
    });

    it('should answer 400 for an unknown query parameter on every API route', async () => {
      for (const route of [
        '/api/v1/domains?lable=team=mail',
        '/api/v1/domains/mail-team.example?verbose=1',
        '/api/v1/domains/mail-team.example/status?x=1',
        '/api/v1/domains/mail-team.example/checks?page=2',
        '/api/v1/findings?state=open',
        '/api/v1/notifications?x=1',
        '/health/ready?x=1',
        '/health/live?x=1',
      ]) {
        const r = await app.api('GET', route);
        expect(r.status, route).toBe(400);
      }
      const del = await app.api('DELETE', '/api/v1/domains/web-team.example?force=true', undefined, auth);
      expect(del.status).toBe(400);
      expect(del.body.message).toEqual(['query parameter force is not accepted by this route']);
    });

    it('should give one clear message for a number sent as a string', async () => {
      const body = await app.api('POST', '/api/v1/domains', { name: 'string-number.example', intervalSeconds: '600' }, auth);
      expect(body.status).toBe(400);
      expect(body.body.message).toEqual(['intervalSeconds must be a JSON number, not the string "600"']);
      const small = await app.api('POST', '/api/v1/domains', { name: 'string-number.example', intervalSeconds: 5 }, auth);
      expect(small.body.message).toEqual(['intervalSeconds must be at least 30']);
      const query = await app.api('GET', '/api/v1/findings?limit=many');
      expect(query.body.message).toEqual(['limit must be a whole number from 1 to 1000']);
    });

    it('should describe the response of every route in OpenAPI, /metrics included', async () => {
      const doc = (await app.api('GET', '/api/docs-json')).body as { paths: Record<string, Record<string, { responses: Record<string, { content?: unknown }> }>> };
      expect(Object.keys(doc.paths)).toContain('/metrics');
      const missing: string[] = [];
      for (const [path, ops] of Object.entries(doc.paths)) {
        for (const [method, op] of Object.entries(ops)) {
          const ok = Object.entries(op.responses).filter(([code]) => code.startsWith('2'));
          if (ok.length === 0 || ok.some(([code, r]) => code !== '204' && r.content === undefined)) missing.push(`${method.toUpperCase()} ${path}`);
        }
      }
      expect(missing).toEqual([]);
    });

    it('should describe in OpenAPI every field the answers carry, dkimSelectors and the change history included, with no dangling reference', async () => {
      const doc = (await app.api('GET', '/api/docs-json')).body as OpenApiDocument;
      expect(danglingRefs(doc)).toEqual([]);
      const created = await app.api('POST', '/api/v1/domains', { name: 'openapi.example', dkimSelectors: ['s1', '2024.brand'] }, auth);
      expect(created.status, created.text).toBe(201);
      expect(created.body.dkimSelectors).toEqual(['s1', '2024.brand']);
      const gaps = schemaGaps(doc, responseSchema(doc, 'POST', '/api/v1/domains', 201), created.body, 'POST domains');
      for (const [route, path] of [['/api/v1/domains/{name}', ''], ['/api/v1/domains/{name}/status', '/status'], ['/api/v1/domains/{name}/checks', '/checks'], ['/api/v1/domains/{name}/changes', '/changes']] as const) {
        const r = await app.api('GET', `/api/v1/domains/openapi.example${path}`);
        expect(r.status, r.text).toBe(200);
        gaps.push(...schemaGaps(doc, responseSchema(doc, 'GET', route, 200), r.body, `GET openapi.example${path}`));
      }
      expect(gaps).toEqual([]);
      // The change history's items are described field by field, not as a free-form object.
      expect(Object.keys(doc.components.schemas.PolicyChangeDto?.properties ?? {}).sort()).toEqual(['id', 'kind', 'observedAt', 'probe', 'severity', 'text', 'weakening']);
      expect((await app.api('DELETE', '/api/v1/domains/openapi.example', undefined, auth)).status).toBe(204);
    });
  });

  describe('logs', () => {
    it('should log domain changes and refused credentials, and nothing but JSON', async () => {
      await app.api('POST', '/api/v1/domains', { name: 'audited.example' }, auth);
      await app.api('PATCH', '/api/v1/domains/audited.example', { enabled: false }, auth);
      await app.api('DELETE', '/api/v1/domains/audited.example', undefined, auth);
      await app.api('DELETE', '/api/v1/domains/mail-team.example', undefined, { authorization: 'Bearer wrong-token' });
      await new Promise((r) => setTimeout(r, 200));
      const lines = app.output().split('\n').filter(Boolean);
      const notJson = lines.filter((l) => {
        try {
          JSON.parse(l);
          return false;
        } catch {
          return true;
        }
      });
      expect(notJson).toEqual([]);
      const entries = lines.map((l) => JSON.parse(l) as Record<string, unknown>);
      expect(entries.filter((e) => e.context === 'RoutesResolver' || e.context === 'RouterExplorer')).toEqual([]);
      expect(entries.filter((e) => e.context === 'Domains' && e.domain === 'audited.example').map((e) => e.msg)).toEqual(['domain created', 'domain updated', 'domain deleted']);
      const refused = entries.filter((e) => e.msg === 'request refused: not authorised');
      expect(refused).toEqual([expect.objectContaining({ level: 'warn', status: 401, method: 'DELETE', credentials: 'refused' })]);
      expect(app.output()).not.toContain('wrong-token');
    });

    it('should answer 503 with a short reason, not the database error, when the database is gone', async () => {
      await db.drop();
      const r = await app.api('GET', '/health/ready');
      expect(r.status).toBe(503);
      expect(r.body).toMatchObject({ statusCode: 503, status: 'unavailable', database: 'postgres', reason: 'the database does not answer' });
      // Nothing of the driver's error: no SQL state, no database name, no Prisma wording.
      expect(r.text).not.toMatch(/prisma|does not exist|terminat|ECONNREFUSED|57P01|3D000|mxwatch_e2e_hardening/i);
    });

    it('should remove the temporary working directory of the process when it exits', async () => {
      const cwd = app.cwd;
      expect(existsSync(cwd)).toBe(true);
      await app.stop();
      expect(existsSync(cwd)).toBe(false);
    });
  });
});
