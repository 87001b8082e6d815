import { existsSync, readdirSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { removeDir, runExpectingFailure, startApp, tempDir, type RunningApp } from '../support/app-process.js';
import { createTestDatabase } from '../support/postgres.js';

const TOKEN = 'e2e-token-0123456789abcdef';

interface Backend {
  name: string;
  setup(): Promise<{ env: Record<string, string>; teardown(): Promise<void> }>;
}

const backends: Backend[] = [
  {
    name: 'embedded PGlite',
    async setup() {
      const dir = tempDir('mxwatch-data-');
      return { env: { MXWATCH_DATA_DIR: dir }, teardown: async () => removeDir(dir) };
    },
  },
  {
    name: 'PostgreSQL',
    async setup() {
      // Empty, not a copy of the migrated template: the service's own first start migrates it.
      const db = await createTestDatabase('mxwatch_e2e', { empty: true });
      return { env: { DATABASE_URL: db.url }, teardown: () => db.drop() };
    },
  },
];

describe.each(backends)('mxwatch service on $name', (backend) => {
  let env: Record<string, string>;
  let teardown: () => Promise<void>;
  let app: RunningApp;
  const auth = { authorization: `Bearer ${TOKEN}` };

  beforeAll(async () => {
    ({ env, teardown } = await backend.setup());
    env = { ...env, MXWATCH_API_TOKEN: TOKEN, MXWATCH_SCHEDULER: 'false' };
    app = await startApp(env);
  });

  afterAll(async () => {
    await app?.stop();
    await teardown?.();
  });

  it('should answer liveness and readiness', async () => {
    expect((await app.api('GET', '/health/live')).status).toBe(200);
    const ready = await app.api('GET', '/health/ready');
    expect(ready.status).toBe(200);
    expect(ready.body.database).toBe(backend.name === 'PostgreSQL' ? 'postgres' : 'pglite');
  });

  it('should create, list, get, update and delete a domain', async () => {
    const created = await app.api('POST', '/api/v1/domains', { name: 'Example.COM.', intervalSeconds: 600, labels: { team: 'mail' } }, auth);
    expect(created.status).toBe(201);
    expect(created.body).toMatchObject({ name: 'example.com', intervalSeconds: 600, effectiveIntervalSeconds: 600, labels: { team: 'mail' }, enabled: true, source: 'api' });

    const list = await app.api('GET', '/api/v1/domains');
    expect(list.body.map((d: { name: string }) => d.name)).toContain('example.com');

    expect((await app.api('GET', '/api/v1/domains/EXAMPLE.com')).body.name).toBe('example.com');

    const patched = await app.api('PATCH', '/api/v1/domains/example.com', { intervalSeconds: null, sendingIps: ['192.0.2.7'], enabled: false }, auth);
    expect(patched.status).toBe(200);
    expect(patched.body).toMatchObject({ intervalSeconds: null, effectiveIntervalSeconds: 300, sendingIps: ['192.0.2.7'], enabled: false });

    expect((await app.api('DELETE', '/api/v1/domains/example.com', undefined, auth)).status).toBe(204);
    expect((await app.api('GET', '/api/v1/domains/example.com')).status).toBe(404);
  });

  it('should store internationalised names as punycode', async () => {
    const r = await app.api('POST', '/api/v1/domains', { name: 'Bücher.Example' }, auth);
    expect(r.status).toBe(201);
    expect(r.body.name).toBe('xn--bcher-kva.example');
    expect((await app.api('GET', `/api/v1/domains/${encodeURIComponent('bücher.example')}`)).status).toBe(200);
  });

  it.each([
    ['an invalid domain name', { name: 'not a domain' }, /name/],
    ['an IP address as name', { name: '192.0.2.1' }, /name/],
    ['an unknown field', { name: 'ok.example', colour: 'blue' }, /property colour should not exist/],
    ['a bad interval', { name: 'ok.example', intervalSeconds: 5 }, /intervalSeconds must be at least 30/],
    ['a fractional interval', { name: 'ok.example', intervalSeconds: 60.5 }, /intervalSeconds must be a whole number/],
    ['a bad sending IP', { name: 'ok.example', sendingIps: ['300.1.1.1'] }, /not an IPv4 or IPv6 address/],
    ['a bad label name', { name: 'ok.example', labels: { 'bad-key': 'x' } }, /label name "bad-key"/],
    ['no name', { intervalSeconds: 60 }, /name is required/],
  ])('should reject %s with 400 and store nothing', async (_what, body, message) => {
    const r = await app.api('POST', '/api/v1/domains', body, auth);
    expect(r.status).toBe(400);
    expect([r.body.message].flat().join('\n')).toMatch(message);
    expect((await app.api('GET', '/api/v1/domains/ok.example')).status).toBe(404);
  });

  it('should reject malformed JSON with 400', async () => {
    const r = await app.api('POST', '/api/v1/domains', '{"name": ', auth);
    expect(r.status).toBe(400);
  });

  it('should answer 409 for a duplicate and 404 for unknown domains', async () => {
    expect((await app.api('POST', '/api/v1/domains', { name: 'dup.example' }, auth)).status).toBe(201);
    const dup = await app.api('POST', '/api/v1/domains', { name: 'DUP.example.' }, auth);
    expect(dup.status).toBe(409);
    expect(dup.body.message).toMatch(/already monitored/);
    expect((await app.api('PATCH', '/api/v1/domains/nope.example', { enabled: false }, auth)).status).toBe(404);
    expect((await app.api('DELETE', '/api/v1/domains/nope.example', undefined, auth)).status).toBe(404);
  });

  it('should require the bearer token on mutating routes only', async () => {
    expect((await app.api('POST', '/api/v1/domains', { name: 'noauth.example' })).status).toBe(401);
    expect((await app.api('POST', '/api/v1/domains', { name: 'noauth.example' }, { authorization: 'Bearer wrong' })).status).toBe(401);
    expect((await app.api('DELETE', '/api/v1/domains/dup.example', undefined, { authorization: `Bearer ${TOKEN}x` })).status).toBe(401);
    expect((await app.api('GET', '/api/v1/domains')).status).toBe(200);
    expect((await app.api('GET', '/api/v1/domains/noauth.example')).status).toBe(404);
  });

  it('should serve the OpenAPI document', async () => {
    const doc = await app.api('GET', '/api/docs-json');
    expect(doc.status).toBe(200);
    expect(Object.keys(doc.body.paths)).toEqual(expect.arrayContaining(['/api/v1/domains', '/api/v1/domains/{name}']));
    // The routes every role serves are described too (api/openapi.ts, not their controllers).
    expect(doc.body.paths['/health/ready'].get.tags).toEqual(['health']);
    expect(doc.body.paths['/health/ready'].get.responses['503'].description).toBe('the database does not answer');
    expect(Object.keys(doc.body.paths['/metrics'].get.responses['200'].content)).toEqual(['text/plain; version=0.0.4; charset=utf-8']);
    expect((await app.api('GET', '/api/docs')).status).toBe(200);
  });

  it('should keep domains across a restart', async () => {
    expect((await app.api('POST', '/api/v1/domains', { name: 'persist.example', submissionHosts: ['Smtp.Persist.Example'] }, auth)).status).toBe(201);
    expect(await app.stop()).toBe(0);
    app = await startApp(env);
    const r = await app.api('GET', '/api/v1/domains/persist.example');
    expect(r.status).toBe(200);
    expect(r.body.submissionHosts).toEqual(['smtp.persist.example']);
  });

  it('should write structured JSON logs', () => {
    const lines = app.output().split('\n').filter(Boolean);
    expect(lines.length).toBeGreaterThan(0);
    for (const line of lines.slice(0, 20)) expect(() => JSON.parse(line)).not.toThrow();
  });
});

describe('mxwatch configuration', () => {
  it.each([
    [{ MXWATCH_CHECK_INTERVAL: 'often' }, 'MXWATCH_CHECK_INTERVAL: must be a whole number'],
    [{ MXWATCH_DNS_PROTOCOL: 'quic' }, 'MXWATCH_DNS_PROTOCOL: must be one of https, http, udp, tcp'],
    [{ DATABASE_URL: 'mysql://x' }, 'DATABASE_URL: must be a postgresql: or postgres: URL'],
    [{ MXWATCH_ALLOW_PRIVATE_TARGETS: '10.0.0.0/33' }, 'MXWATCH_ALLOW_PRIVATE_TARGETS:'],
    [{ MXWATCH_CONFIG: '/nonexistent/mxwatch.yml' }, 'MXWATCH_CONFIG: file /nonexistent/mxwatch.yml does not exist'],
  ])('should refuse to start with %o', async (env, message) => {
    const dir = tempDir();
    const r = await runExpectingFailure({ MXWATCH_DATA_DIR: dir, ...env });
    removeDir(dir);
    expect(r.code).not.toBe(0);
    expect(r.output).toContain(message);
  });

  it('should stop at once on a port that is taken, before it opens the database', async () => {
    const holder = createServer();
    const port = await new Promise<number>((resolve) => holder.listen(0, '127.0.0.1', () => resolve((holder.address() as { port: number }).port)));
    const dir = tempDir();
    try {
      const r = await runExpectingFailure({ MXWATCH_DATA_DIR: path.join(dir, 'data'), PORT: String(port) });
      expect(r.code).toBe(1);
      expect(r.output).toContain(`port ${port} on 127.0.0.1 is already in use`);
      // Nothing was migrated or locked: the data directory was never created.
      expect(existsSync(path.join(dir, 'data')) ? readdirSync(path.join(dir, 'data')) : []).toEqual([]);
    } finally {
      holder.close();
      removeDir(dir);
    }
  });

  it('should name the YAML path of a bad value', async () => {
    const dir = tempDir();
    const file = path.join(dir, 'mxwatch.yml');
    writeFileSync(file, 'settings:\n  checkInterval: -5\n  colour: blue\ndomains:\n  - name: good.example\n  - name: "bad domain"\n  - name: ok.example\n    intervalSeconds: 1\n');
    const r = await runExpectingFailure({ MXWATCH_DATA_DIR: dir, MXWATCH_CONFIG: file });
    removeDir(dir);
    expect(r.code).not.toBe(0);
    expect(r.output).toContain('mxwatch.yml: settings.checkInterval: must be between 10 and 604800, got -5');
    expect(r.output).toContain('mxwatch.yml: settings.colour: unknown setting');
    expect(r.output).toMatch(/mxwatch.yml: domains\[1\]\.name: "bad domain" is not a valid domain name/);
    expect(r.output).toContain('mxwatch.yml: domains[2].intervalSeconds: intervalSeconds must be at least 30');
  });

  it('should sync domains from the YAML file: add, update, and remove only what came from the file', async () => {
    const dir = tempDir();
    const file = path.join(dir, 'mxwatch.yml');
    const env = { MXWATCH_DATA_DIR: path.join(dir, 'data'), MXWATCH_CONFIG: file, MXWATCH_SCHEDULER: 'false' };
    writeFileSync(file, 'domains:\n  - name: a.example\n    intervalSeconds: 120\n  - b.example\n');
    let app = await startApp(env);
    try {
      expect((await app.api('GET', '/api/v1/domains/a.example')).body).toMatchObject({ source: 'config', intervalSeconds: 120 });
      expect((await app.api('POST', '/api/v1/domains', { name: 'api.example' })).status).toBe(201);
      await app.stop();
      writeFileSync(file, 'domains:\n  - name: a.example\n    intervalSeconds: 900\n    labels: { env: prod }\n');
      app = await startApp(env);
      expect((await app.api('GET', '/api/v1/domains/a.example')).body).toMatchObject({ intervalSeconds: 900, labels: { env: 'prod' } });
      expect((await app.api('GET', '/api/v1/domains/b.example')).status).toBe(404);
      expect((await app.api('GET', '/api/v1/domains/api.example')).status).toBe(200);
    } finally {
      await app.stop();
      removeDir(dir);
    }
  });
});
