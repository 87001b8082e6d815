/**
 * Finding notifications end to end, against the built service on PostgreSQL: a real check of a
 * fake mail server turns into stored notifications delivered to local receivers (signed JSON
 * webhook, Slack-compatible webhook, email through an SMTP relay), with the lifecycle
 * (MXWATCH_ALERT_AFTER=2), retries, the attempt log and the test endpoint.
 */
import { createHmac } from 'node:crypto';
import { createServer, type IncomingHttpHeaders, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { SMTPServer } from 'smtp-server';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createFakeInternet, type FakeInternet, type PortBehaviour } from '../support/fake-internet.js';
import { removeDir, startApp, tempDir, type RunningApp } from '../support/app-process.js';
import { createTestDatabase } from '../support/postgres.js';

const TOKEN = 'e2e-notify-token-0123456789';
const SECRET = 'e2e-webhook-secret';
const auth = { authorization: `Bearer ${TOKEN}` };

const DOMAIN = 'notify.test';
const MX = 'mx.notify.test';
const MX_IP = '127.21.0.1';
const WARN_DOMAIN = 'warn.test';
/** Two MX hosts broken at once: one run opens several findings. */
const GROUP_DOMAIN = 'group.test';
/** Opened while the webhook is down, delivered by the next process. */
const RESTART_DOMAIN = 'restart.test';
const TARGET = `${MX}[${MX_IP}]:25`;

// ---------------------------------------------------------------------------------------------
// Local receivers
// ---------------------------------------------------------------------------------------------

interface Received {
  headers: IncomingHttpHeaders;
  body: string;
  /** Set once the receiver has answered this request. */
  answered: boolean;
}

/** `number`: answer with that status; `hold`: keep the request open until `release()`. */
type Reply = number | 'hold';

/** An HTTP endpoint on 127.0.0.1 that records every request and answers as scripted (default 200). */
class Receiver {
  readonly requests: Received[] = [];
  private replies: Reply[] = [];
  private readonly held: Array<{ res: ServerResponse; req: Received }> = [];

  private constructor(private readonly server: Server) {}

  static async start(): Promise<Receiver> {
    let self: Receiver | null = null;
    const server = createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => self!.onRequest(req.headers, Buffer.concat(chunks).toString('utf8'), res));
    });
    self = new Receiver(server);
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    return self;
  }

  get url(): string {
    return `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
  }

  /** The next requests get these replies, in order; after them, 200 again. */
  script(...replies: Reply[]): void {
    this.replies = replies;
  }

  /** Answers every held request. */
  release(status = 200): void {
    for (const { res, req } of this.held.splice(0)) {
      req.answered = true;
      res.writeHead(status).end();
    }
  }

  get holding(): number {
    return this.held.length;
  }

  async close(): Promise<void> {
    this.release(503);
    this.server.closeAllConnections();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  private onRequest(headers: IncomingHttpHeaders, body: string, res: ServerResponse): void {
    const req: Received = { headers, body, answered: false };
    this.requests.push(req);
    const reply = this.replies.shift() ?? 200;
    if (reply === 'hold') {
      this.held.push({ res, req });
      return;
    }
    req.answered = true;
    res.writeHead(reply, { 'content-type': 'text/plain' }).end(reply >= 300 ? `scripted ${reply}` : 'ok');
  }
}

interface Mail {
  from: string;
  to: string[];
  raw: string;
}

/** A plain-text SMTP relay on 127.0.0.1 (smtp-server) keeping every message it accepts. */
async function startRelay(): Promise<{ port: number; mails: Mail[]; close(): Promise<void> }> {
  const mails: Mail[] = [];
  const server = new SMTPServer({
    name: 'relay.test',
    logger: false,
    disableReverseLookup: true,
    authOptional: true,
    disabledCommands: ['AUTH', 'STARTTLS'],
    onData(stream, session, cb) {
      const chunks: Buffer[] = [];
      stream.on('data', (c: Buffer) => chunks.push(c));
      stream.on('end', () => {
        mails.push({
          from: session.envelope.mailFrom ? session.envelope.mailFrom.address : '',
          to: session.envelope.rcptTo.map((r) => r.address),
          raw: Buffer.concat(chunks).toString('utf8'),
        });
        cb();
      });
    },
  });
  server.on('error', () => undefined);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
  return {
    port: (server.server.address() as AddressInfo).port,
    mails,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

/** Header value of a raw RFC 5322 message (unfolded). */
function mailHeader(raw: string, name: string): string | undefined {
  const head = raw.split(/\r?\n\r?\n/)[0]!.replace(/\r?\n[ \t]+/g, ' ');
  const line = head.split(/\r?\n/).find((l) => l.toLowerCase().startsWith(`${name.toLowerCase()}:`));
  return line?.slice(name.length + 1).trim();
}

async function waitFor<T>(what: string, fn: () => Promise<T | undefined | null | false> | T | undefined | null | false, timeoutMs = 15_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await fn();
    if (v) return v;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

// ---------------------------------------------------------------------------------------------
// The suite
// ---------------------------------------------------------------------------------------------

describe('finding notifications (built service, PostgreSQL)', () => {
  let fake: FakeInternet;
  let webhook: Receiver;
  let slack: Receiver;
  let relay: Awaited<ReturnType<typeof startRelay>>;
  let db: Awaited<ReturnType<typeof createTestDatabase>>;
  let dir: string;
  let app: RunningApp;
  let appEnv: Record<string, string | undefined>;

  /** Replaces the MX's server by one with another behaviour on the same address and port. */
  async function mxBecomes(behaviour: PortBehaviour): Promise<void> {
    await fake.setBehaviour(MX_IP, 25, behaviour);
  }

  async function check(domain = DOMAIN) {
    const r = await app.api('POST', `/api/v1/domains/${domain}/check`, undefined, auth);
    expect(r.status, r.text).toBe(200);
    return r.body;
  }

  async function notifications(query = ''): Promise<any[]> {
    const r = await app.api('GET', `/api/v1/notifications${query}`);
    expect(r.status, r.text).toBe(200);
    return r.body;
  }

  /** Every notification stored for the main domain's STARTTLS finding, oldest first. */
  async function starttlsNotifications(event?: 'opened' | 'resolved'): Promise<any[]> {
    const all = await notifications(event ? `?event=${event}` : '');
    return all.filter((n) => n.payload?.finding?.code === 'STARTTLS_NOT_OFFERED' && n.payload?.domain === DOMAIN).reverse();
  }

  /** Waits until nothing is pending any more (delivery runs in the background). */
  async function settled(): Promise<any[]> {
    return waitFor('every notification to be delivered or given up', async () => {
      const all = await notifications('?limit=1000');
      return all.every((n) => n.status !== 'pending') && all;
    });
  }

  function webhookBodies(): any[] {
    return webhook.requests.map((r) => JSON.parse(r.body));
  }

  beforeAll(async () => {
    fake = await createFakeInternet({ dnsblZones: [{ zone: 'zen.spamhaus.org', kind: 'ip' }] });
    await fake.addMailDomain(DOMAIN, { mx: [{ host: MX, ip: MX_IP }] });
    await fake.addMailDomain(WARN_DOMAIN, { mx: [{ host: 'mx.warn.test', behaviour25: 'expiring-cert' }] });
    await fake.addMailDomain(GROUP_DOMAIN, { mx: [{ host: 'mx1.group.test', behaviour25: 'no-starttls' }, { host: 'mx2.group.test', behaviour25: 'no-starttls' }] });
    await fake.addMailDomain(RESTART_DOMAIN, { mx: [{ host: 'mx.restart.test', behaviour25: 'no-starttls' }] });

    webhook = await Receiver.start();
    slack = await Receiver.start();
    relay = await startRelay();
    db = await createTestDatabase();
    dir = tempDir('mxwatch-notify-');
    const configFile = path.join(dir, 'mxwatch.yml');
    writeFileSync(
      configFile,
      [
        'notifications:',
        '  - type: slack',
        '    name: chat',
        `    url: ${slack.url}/services/T000/B000/SECRET-PATH`,
        '    minSeverity: critical',
        '  - type: email',
        '    name: mail',
        '    to: [oncall@example.com]',
        '    from: mxwatch <alerts@example.com>',
        '    smtp:',
        '      host: 127.0.0.1',
        `      port: ${relay.port}`,
        '      ignoreTLS: true',
        '',
      ].join('\n'),
    );

    appEnv = {
      ...fake.env,
      DATABASE_URL: db.url,
      MXWATCH_CONFIG: configFile,
      MXWATCH_API_TOKEN: TOKEN,
      MXWATCH_LOG_LEVEL: 'info',
      MXWATCH_ALERT_AFTER: '2',
      MXWATCH_WEBHOOK_URL: `${webhook.url}/hooks/mxwatch`,
      MXWATCH_WEBHOOK_SECRET: SECRET,
      // The mail path only: the policy probes (MTA-STS, TLS-RPT, DNSSEC through a non-validating
      // fake resolver, ...) would add their own findings to every message counted here.
      MXWATCH_PROBES: 'mx,smtp,starttls,dnsbl',
    };
    app = await startApp(appEnv);
    for (const name of [DOMAIN, WARN_DOMAIN, GROUP_DOMAIN, RESTART_DOMAIN]) {
      const r = await app.api('POST', '/api/v1/domains', { name, labels: { team: 'mail' } }, auth);
      expect(r.status, r.text).toBe(201);
    }
  });

  afterAll(async () => {
    await app?.stop();
    await Promise.allSettled([fake?.close(), webhook?.close(), slack?.close(), relay?.close()]);
    await db?.drop();
    if (dir) removeDir(dir);
  });

  it('should notify nobody while STARTTLS works', async () => {
    for (let i = 0; i < 2; i++) {
      const run = await check();
      expect(run.status).toBe('pass');
      expect(run.findings.observed).toEqual([]);
    }
    expect(await notifications()).toEqual([]);
    expect(webhook.requests).toHaveLength(0);
    expect(slack.requests).toHaveLength(0);
    expect(relay.mails).toHaveLength(0);
  });

  it('should keep a finding pending on its first run, and an untestable run neither opens nor drops it', async () => {
    await mxBecomes('no-starttls');
    const first = await check();
    expect(first.findings.observed.map((f: { code: string }) => f.code)).toEqual(['STARTTLS_NOT_OFFERED']);
    expect(first.findings.opened).toEqual([]);
    expect(first.findings.open).toEqual([]);

    // A 421 tarpit: the run cannot see STARTTLS at all, so it says nothing about the finding.
    await mxBecomes('reject-421');
    const tarpit = await check();
    expect(tarpit.results.find((r: { probe: string; target: string }) => r.probe === 'smtp' && r.target === TARGET)).toMatchObject({ status: 'untestable', reason: 'temporary_reject' });
    expect(tarpit.findings.opened).toEqual([]);
    expect(tarpit.findings.open).toEqual([]);

    expect(await notifications()).toEqual([]);
    expect(webhook.requests).toHaveLength(0);
  });

  it('should send exactly one "opened" notification per channel on the second run, retrying a failing receiver', async () => {
    await mxBecomes('no-starttls');
    webhook.script(500, 200);
    const second = await check();
    expect(second.findings.opened.map((f: { code: string }) => f.code)).toEqual(['STARTTLS_NOT_OFFERED']);
    // Stored before the check returns (delivery itself runs in the background).
    expect((await starttlsNotifications('opened')).map((n) => n.channel).sort()).toEqual(['chat', 'env-webhook', 'mail']);

    const rows = await settled();
    const opened = await starttlsNotifications('opened');
    expect(opened.map((n) => n.channel).sort()).toEqual(['chat', 'env-webhook', 'mail']);
    expect(rows).toHaveLength(3);
    for (const n of opened) expect(n).toMatchObject({ event: 'opened', status: 'sent', lastError: null });

    // The webhook answered 500 once: retried, and both attempts are in the log.
    const hook = opened.find((n) => n.channel === 'env-webhook');
    expect(hook.attempts).toBe(2);
    expect(hook.attemptLog).toHaveLength(2);
    expect(hook.attemptLog[0]).toMatchObject({ n: 1, ok: false, status: 500, retryable: true, code: 'rejected' });
    expect(hook.attemptLog[0].error).toContain('answered HTTP 500');
    expect(hook.attemptLog[0].nextDelayMs).toEqual(expect.any(Number));
    expect(hook.attemptLog[1]).toMatchObject({ n: 2, ok: true });
    for (const n of opened.filter((x) => x.channel !== 'env-webhook')) {
      expect(n.attempts).toBe(1);
      expect(n.attemptLog).toEqual([expect.objectContaining({ n: 1, ok: true })]);
    }

    // Both webhook attempts carried the same event, signed per attempt.
    expect(webhook.requests).toHaveLength(2);
    expect(webhook.requests[0]!.body).toBe(webhook.requests[1]!.body);
    expect(webhook.requests[0]!.headers['x-mxwatch-delivery']).toBe(webhook.requests[1]!.headers['x-mxwatch-delivery']);
    for (const req of webhook.requests) {
      const ts = req.headers['x-mxwatch-timestamp'] as string;
      expect(Math.abs(Date.now() / 1000 - Number(ts))).toBeLessThan(300);
      const expected = `sha256=${createHmac('sha256', SECRET).update(`${ts}.${req.body}`).digest('hex')}`;
      expect(req.headers['x-mxwatch-signature']).toBe(expected);
      expect(req.headers['x-mxwatch-event']).toBe('opened');
      expect(req.headers['content-type']).toBe('application/json');
    }
    const payload = JSON.parse(webhook.requests[1]!.body);
    expect(payload).toMatchObject({
      version: 1,
      event: 'opened',
      domain: DOMAIN,
      labels: { team: 'mail' },
      finding: {
        code: 'STARTTLS_NOT_OFFERED',
        severity: 'critical',
        probe: 'starttls',
        target: TARGET,
        message: `${MX} (${MX_IP}) port 25 does not offer STARTTLS`,
        remediation: expect.stringContaining('Enable STARTTLS'),
        evidence: { host: MX, ip: MX_IP, port: 25 },
        resolvedAt: null,
      },
      statusUrl: `${app.baseUrl}/domains/${DOMAIN}`,
    });
    // The link opens the domain's status page, which shows the finding.
    const page = await fetch(payload.statusUrl);
    expect(page.status).toBe(200);
    expect(page.headers.get('content-type')).toMatch(/text\/html/);
    expect(await page.text()).toContain('STARTTLS_NOT_OFFERED');

    // Slack: one post carrying every field in its text.
    expect(slack.requests).toHaveLength(1);
    const chat = JSON.parse(slack.requests[0]!.body);
    expect(chat.text).toContain(`OPENED critical STARTTLS_NOT_OFFERED on ${DOMAIN}`);
    expect(chat.text).toContain('Remediation: Enable STARTTLS');
    expect(chat.text).toContain(`ip: ${MX_IP}`);
    expect(chat.text).toContain(`Status: ${payload.statusUrl}`);

    // Email: one mail through the relay.
    expect(relay.mails).toHaveLength(1);
    const mail = relay.mails[0]!;
    expect(mail.from).toBe('alerts@example.com');
    expect(mail.to).toEqual(['oncall@example.com']);
    expect(mailHeader(mail.raw, 'Subject')).toBe(`[mxwatch] OPENED critical STARTTLS_NOT_OFFERED on ${DOMAIN}`);
    expect(mail.raw).toContain('Enable STARTTLS');
    expect(mail.raw).toContain(payload.statusUrl);
  });

  it('should not notify again while the finding stays open', async () => {
    const third = await check();
    expect(third.findings.opened).toEqual([]);
    expect(third.findings.open.map((f: { code: string }) => f.code)).toEqual(['STARTTLS_NOT_OFFERED']);
    await settled();
    expect(await starttlsNotifications()).toHaveLength(3);
    expect(webhook.requests).toHaveLength(2);
    expect(slack.requests).toHaveLength(1);
    expect(relay.mails).toHaveLength(1);
  });

  it('should resolve only after two clean runs, an untestable run in between counting for nothing', async () => {
    await mxBecomes('good');
    const clean1 = await check();
    expect(clean1.findings.observed).toEqual([]);
    expect(clean1.findings.resolved).toEqual([]);
    expect(clean1.findings.open).toHaveLength(1);

    await mxBecomes('reject-421');
    const tarpit = await check();
    expect(tarpit.findings.resolved).toEqual([]);
    expect(tarpit.findings.open).toHaveLength(1);

    await mxBecomes('good');
    await settled();
    expect(await starttlsNotifications('resolved')).toEqual([]);

    // The webhook hangs on the resolution: the check that caused it must not wait for it.
    webhook.script('hold');
    const requestsBefore = webhook.requests.length;
    const clean2 = await check();
    expect(clean2.findings.resolved.map((f: { code: string }) => f.code)).toEqual(['STARTTLS_NOT_OFFERED']);
    expect(clean2.findings.open).toEqual([]);
    await waitFor('the webhook to receive the resolution', () => webhook.holding === 1);
    const heldRequest = webhook.requests[requestsBefore]!;
    // Checks keep running while the receiver still holds the request.
    const another = await check();
    expect(another.findings.resolved).toEqual([]);
    expect(heldRequest.answered).toBe(false);
    expect((await starttlsNotifications('resolved')).find((n) => n.channel === 'env-webhook')).toMatchObject({ status: 'pending' });
    webhook.release(200);

    await settled();
    const resolved = await starttlsNotifications('resolved');
    expect(resolved.map((n) => n.channel).sort()).toEqual(['chat', 'env-webhook', 'mail']);
    for (const n of resolved) expect(n).toMatchObject({ status: 'sent', attempts: 1 });
    expect(webhook.requests).toHaveLength(requestsBefore + 1);
    const body = JSON.parse(heldRequest.body);
    expect(body).toMatchObject({ event: 'resolved', domain: DOMAIN, finding: { code: 'STARTTLS_NOT_OFFERED', target: TARGET, resolvedAt: expect.any(String) } });
    expect(heldRequest.headers['x-mxwatch-event']).toBe('resolved');

    expect(slack.requests).toHaveLength(2);
    expect(JSON.parse(slack.requests[1]!.body).text).toContain(`RESOLVED critical STARTTLS_NOT_OFFERED on ${DOMAIN}`);

    // The resolution mail threads under the opening one.
    expect(relay.mails).toHaveLength(2);
    expect(mailHeader(relay.mails[1]!.raw, 'Subject')).toBe(`[mxwatch] RESOLVED critical STARTTLS_NOT_OFFERED on ${DOMAIN}`);
    expect(mailHeader(relay.mails[1]!.raw, 'In-Reply-To')).toBe(mailHeader(relay.mails[0]!.raw, 'Message-ID'));

    expect(await starttlsNotifications()).toHaveLength(6);
  });

  it('should list notifications newest first with their attempt log, filtered by channel and event', async () => {
    const all = await notifications();
    expect(all).toHaveLength(6);
    expect(all.map((n) => n.event)).toEqual(['resolved', 'resolved', 'resolved', 'opened', 'opened', 'opened']);
    for (const n of all) {
      expect(n).toMatchObject({ id: expect.any(String), findingId: expect.any(String), status: 'sent', createdAt: expect.any(String), sentAt: expect.any(String) });
      expect(n.attemptLog).toHaveLength(n.attempts);
      for (const a of n.attemptLog) expect(a).toMatchObject({ n: expect.any(Number), ok: expect.any(Boolean), startedAt: expect.any(String), durationMs: expect.any(Number) });
    }
    const hook = await notifications('?channel=env-webhook');
    expect(hook.map((n) => [n.event, n.attempts])).toEqual([
      ['resolved', 1],
      ['opened', 2],
    ]);
    expect(await notifications('?event=opened&channel=chat')).toHaveLength(1);
    expect((await app.api('GET', '/api/v1/notifications?event=bogus')).status).toBe(400);
    // The Slack URL carries a token in its path: it must never surface.
    expect(JSON.stringify(all)).not.toContain('SECRET-PATH');
  });

  it('should apply a channel severity filter', async () => {
    const before = { hook: webhook.requests.length, chat: slack.requests.length, mails: relay.mails.length };
    await check(WARN_DOMAIN);
    const run = await check(WARN_DOMAIN);
    expect(run.findings.opened.map((f: { code: string; severity: string }) => [f.code, f.severity])).toEqual([['TLS_CERT_EXPIRING', 'warning']]);
    await settled();
    const rows = (await notifications()).filter((n) => n.payload?.domain === WARN_DOMAIN);
    // The chat channel only takes critical findings.
    expect(rows.map((n) => n.channel).sort()).toEqual(['env-webhook', 'mail']);
    expect(webhook.requests.length).toBe(before.hook + 1);
    expect(JSON.parse(webhook.requests.at(-1)!.body).finding).toMatchObject({ code: 'TLS_CERT_EXPIRING', severity: 'warning' });
    expect(slack.requests.length).toBe(before.chat);
    expect(relay.mails.length).toBe(before.mails + 1);
  });

  it('should send a test notification to every channel, report each outcome, and require the token', async () => {
    expect((await app.api('POST', '/api/v1/notifications/test', {})).status).toBe(401);
    expect((await app.api('POST', '/api/v1/notifications/test', {}, { authorization: 'Bearer wrong-token-0123456789' })).status).toBe(401);

    const before = { hook: webhook.requests.length, chat: slack.requests.length, mails: relay.mails.length };
    slack.script(500);
    const r = await app.api('POST', '/api/v1/notifications/test', { domain: DOMAIN }, auth);
    expect(r.status, r.text).toBe(200);
    const byChannel = Object.fromEntries(r.body.map((n: { channel: string }) => [n.channel, n]));
    expect(Object.keys(byChannel).sort()).toEqual(['chat', 'env-webhook', 'mail']);
    expect(byChannel['env-webhook']).toMatchObject({ event: 'test', status: 'sent', attempts: 1, findingId: null });
    expect(byChannel['mail']).toMatchObject({ event: 'test', status: 'sent', attempts: 1 });
    // A test is one attempt: the failing channel is reported, not retried.
    expect(byChannel['chat']).toMatchObject({ event: 'test', status: 'failed', attempts: 1, lastError: expect.stringContaining('answered HTTP 500') });
    expect(byChannel['chat'].attemptLog).toEqual([expect.objectContaining({ n: 1, ok: false, status: 500 })]);

    expect(webhook.requests.length).toBe(before.hook + 1);
    const test = webhook.requests.at(-1)!;
    expect(test.headers['x-mxwatch-event']).toBe('test');
    expect(JSON.parse(test.body)).toMatchObject({ event: 'test', domain: DOMAIN, finding: { code: 'MXWATCH_TEST', severity: 'info' } });
    expect(slack.requests.length).toBe(before.chat + 1);
    expect(relay.mails.length).toBe(before.mails + 1);
    expect(mailHeader(relay.mails.at(-1)!.raw, 'Subject')).toBe(`[mxwatch] TEST info MXWATCH_TEST on ${DOMAIN}`);

    const one = await app.api('POST', '/api/v1/notifications/test', { channel: 'env-webhook' }, auth);
    expect(one.status, one.text).toBe(200);
    expect(one.body.map((n: { channel: string }) => n.channel)).toEqual(['env-webhook']);
    expect((await app.api('POST', '/api/v1/notifications/test', { channel: 'nope' }, auth)).status).toBe(400);
  });

  it('should count deliveries in mxwatch_notifications_total', async () => {
    const text = await fetch(`${app.baseUrl}/metrics`).then((r) => r.text());
    expect(text).toMatch(/^mxwatch_notifications_total\{channel="chat",status="failed"\} 1$/m);
    expect(text).toMatch(/^mxwatch_notifications_total\{channel="env-webhook",status="sent"\} [1-9]\d*$/m);
  });

  it('should store only the status and a short reason of a failing receiver, never its answer', async () => {
    // The Receiver answers failures with a body ("scripted 500"); stored and served rows never carry it.
    const all = await notifications('?limit=1000');
    const failures = all.flatMap((n) => [n.lastError, ...n.attemptLog.map((a: { error?: string }) => a.error)]).filter(Boolean);
    expect(failures.length).toBeGreaterThan(0);
    for (const reason of failures) {
      expect(reason).toMatch(/answered HTTP \d{3} \([A-Za-z ]+\)$/);
      expect(reason).not.toContain('scripted');
    }
  });

  it('should group what one run opens for one domain into one message per channel', async () => {
    const before = { hook: webhook.requests.length, chat: slack.requests.length, mails: relay.mails.length };
    await check(GROUP_DOMAIN);
    const run = await check(GROUP_DOMAIN);
    const opened = run.findings.opened.map((f: { code: string; target: string }) => `${f.code} ${f.target}`).sort();
    expect(opened.length).toBeGreaterThan(1);
    await settled();
    const rows = (await notifications()).filter((n) => n.payload?.domain === GROUP_DOMAIN);
    expect(rows.map((n) => n.channel).sort()).toEqual(['chat', 'env-webhook', 'mail']);

    expect(webhook.requests.length).toBe(before.hook + 1);
    const body = JSON.parse(webhook.requests.at(-1)!.body);
    expect(body.version).toBe(1);
    expect(body.event).toBe('opened');
    expect(body.findings.map((f: { code: string; target: string }) => `${f.code} ${f.target}`).sort()).toEqual(opened);
    expect(body.findings.every((f: { event: string }) => f.event === 'opened')).toBe(true);
    expect(body.finding).toMatchObject({ code: body.findings[0].code, target: body.findings[0].target });

    // The chat channel takes critical findings only: one post with just those.
    const critical = run.findings.opened.filter((f: { severity: string }) => f.severity === 'critical');
    expect(slack.requests.length).toBe(before.chat + (critical.length > 0 ? 1 : 0));
    expect(relay.mails.length).toBe(before.mails + 1);
    expect(mailHeader(relay.mails.at(-1)!.raw, 'Subject')).toMatch(new RegExp(`^\\[mxwatch\\] OPENED \\w+ [A-Z_]+ and ${opened.length - 1} more on ${GROUP_DOMAIN.replace('.', '\\.')}$`));
  });

  it('should resend a failed notification on POST /notifications/{id}/retry, and answer 404/409 otherwise', async () => {
    slack.script(500);
    const test = await app.api('POST', '/api/v1/notifications/test', { channel: 'chat' }, auth);
    expect(test.status, test.text).toBe(200);
    const failed = test.body[0];
    expect(failed).toMatchObject({ status: 'failed', attempts: 1 });

    expect((await app.api('POST', `/api/v1/notifications/${failed.id}/retry`)).status).toBe(401);
    const unknown = await app.api('POST', '/api/v1/notifications/00000000-0000-4000-8000-000000000000/retry', undefined, auth);
    expect(unknown.status).toBe(404);
    expect((await app.api('POST', '/api/v1/notifications/not-a-uuid/retry', undefined, auth)).status).toBe(404);

    const before = slack.requests.length;
    const retried = await app.api('POST', `/api/v1/notifications/${failed.id}/retry`, undefined, auth);
    expect(retried.status, retried.text).toBe(200);
    expect(retried.body).toMatchObject({ id: failed.id, status: 'pending', retryUntil: expect.any(String) });
    const sent = await waitFor('the retried notification to be delivered', async () => (await notifications('?channel=chat')).find((n) => n.id === failed.id && n.status === 'sent'));
    expect(sent.attempts).toBe(2);
    expect(sent.attemptLog.map((a: { n: number; ok: boolean }) => [a.n, a.ok])).toEqual([
      [1, false],
      [2, true],
    ]);
    expect(slack.requests.length).toBe(before + 1);

    const again = await app.api('POST', `/api/v1/notifications/${failed.id}/retry`, undefined, auth);
    expect(again.status).toBe(409);
    expect(again.body.message).toContain('already delivered');
  });

  it('should keep retrying a notification across a restart, at its persisted next-attempt time', async () => {
    await settled();
    // Down for the first attempts: the notification stays pending with a next-attempt time.
    webhook.script(503, 503);
    await check(RESTART_DOMAIN);
    await check(RESTART_DOMAIN);
    const pending = await waitFor('a failed first attempt at the webhook', async () =>
      (await notifications('?channel=env-webhook')).find((n) => n.payload?.domain === RESTART_DOMAIN && n.status === 'pending' && n.attempts >= 1),
    );
    expect(pending.nextAttemptAt).toEqual(expect.any(String));
    expect(pending.attemptLog[0]).toMatchObject({ ok: false, status: 503, retryable: true, nextDelayMs: expect.any(Number) });

    await app.stop();
    const attemptsBefore = (await readRow(db.url, pending.id)).attempts;
    app = await startApp(appEnv);
    const delivered = await waitFor(
      'the notification to be delivered by the new process',
      async () => (await notifications('?channel=env-webhook')).find((n) => n.id === pending.id && n.status === 'sent'),
      30_000,
    );
    expect(delivered.attempts).toBeGreaterThan(attemptsBefore);
    expect(delivered.attemptLog.at(-1)).toMatchObject({ ok: true });
    // Counted from where the first process left off, not started over.
    expect(delivered.attemptLog.map((a: { n: number }) => a.n)).toEqual(Array.from({ length: delivered.attempts }, (_, i) => i + 1));
  });
});

/** A notification row read straight from the database (the app is stopped). */
async function readRow(url: string, id: string): Promise<{ attempts: number; status: string }> {
  const { default: pg } = await import('pg');
  const c = new pg.Client({ connectionString: url });
  await c.connect();
  try {
    const r = await c.query('SELECT attempts, status FROM "Notification" WHERE id = $1', [id]);
    return r.rows[0];
  } finally {
    await c.end();
  }
}
