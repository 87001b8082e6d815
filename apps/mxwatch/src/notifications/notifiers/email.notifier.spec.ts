import { createServer as createTcpServer, type AddressInfo, type Server as TcpServer, type Socket } from 'node:net';
import { SMTPServer, type SMTPServerAddress } from 'smtp-server';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import type { EmailChannelConfig } from '../notification.types.js';
import { NotifierError } from '../notification.types.js';
import { EmailNotifier, openedMessageId } from './email.notifier.js';
import { closedPort, sampleEvent, sampleGroupedEvent } from './notification.fixture.js';

interface CapturedMail {
  from: string;
  to: string[];
  headers: Map<string, string>;
  body: string;
}

/** Enough MIME for a single text/plain part: unfolded headers, quoted-printable or 7bit body. */
function parseMessage(raw: string): { headers: Map<string, string>; body: string } {
  const split = raw.indexOf('\r\n\r\n');
  const headerText = raw.slice(0, split).replace(/\r\n[ \t]+/g, ' ');
  const headers = new Map<string, string>();
  for (const line of headerText.split('\r\n')) {
    const colon = line.indexOf(':');
    headers.set(line.slice(0, colon).toLowerCase(), line.slice(colon + 1).trim());
  }
  let body = raw.slice(split + 4);
  if (headers.get('content-transfer-encoding')?.toLowerCase() === 'quoted-printable') {
    const bytes = body
      .replace(/=\r\n/g, '')
      .replace(/=([0-9A-F]{2})/g, (_, hex: string) => String.fromCharCode(parseInt(hex, 16)));
    body = Buffer.from(bytes, 'latin1').toString('utf8');
  }
  return { headers, body: body.replace(/\r\n/g, '\n') };
}

type RcptRule = (address: string) => { code: number; message: string } | null;

describe(EmailNotifier.name, () => {
  let server: SMTPServer;
  let port: number;
  let mails: CapturedMail[];
  let auths: { user: string; pass: string }[];
  let closes: number;
  let rcptRule: RcptRule;
  let notifier: EmailNotifier | undefined;
  const never = new AbortController().signal;

  beforeAll(async () => {
    server = new SMTPServer({
      authOptional: true,
      disableReverseLookup: true,
      allowInsecureAuth: true,
      disabledCommands: ['STARTTLS'],
      logger: false,
      onAuth(auth, _session, callback) {
        auths.push({ user: auth.username ?? '', pass: auth.password ?? '' });
        callback(null, { user: auth.username });
      },
      onRcptTo(address: SMTPServerAddress, _session, callback) {
        const rule = rcptRule(address.address);
        if (rule === null) return callback();
        callback(Object.assign(new Error(rule.message), { responseCode: rule.code }));
      },
      onData(stream, session, callback) {
        const chunks: Buffer[] = [];
        stream.on('data', (c: Buffer) => chunks.push(c));
        stream.on('end', () => {
          const { headers, body } = parseMessage(Buffer.concat(chunks).toString('latin1'));
          const envelope = session.envelope;
          mails.push({
            from: envelope.mailFrom ? envelope.mailFrom.address : '',
            to: envelope.rcptTo.map((r) => r.address),
            headers,
            body,
          });
          callback();
        });
      },
      onClose() {
        closes++;
      },
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    port = (server.server.address() as AddressInfo).port;
  });

  afterAll(async () => {
    await new Promise<void>((resolve) => server.close(() => resolve()));
  });

  beforeEach(() => {
    mails = [];
    auths = [];
    closes = 0;
    rcptRule = () => null;
  });

  afterEach(async () => {
    await notifier?.close();
    notifier = undefined;
  });

  const config = (over: Partial<EmailChannelConfig> = {}, smtp: Partial<EmailChannelConfig['smtp']> = {}): EmailChannelConfig => ({
    type: 'email',
    name: 'oncall',
    to: ['oncall@example.net'],
    from: 'mxwatch <mxwatch@alerts.example.org>',
    ...over,
    // Plain-text relay on loopback: the test server has no certificate to offer.
    smtp: { host: '127.0.0.1', port, secure: false, ignoreTLS: true, ...smtp },
  });

  const make = (cfg: EmailChannelConfig, options: ConstructorParameters<typeof EmailNotifier>[1] = {}) => {
    notifier = new EmailNotifier(cfg, options);
    return notifier;
  };

  const failure = async (n: EmailNotifier, signal = never): Promise<NotifierError> => {
    const err = await n.send(sampleEvent(), signal).then(
      () => null,
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(NotifierError);
    return err as NotifierError;
  };

  it('should deliver a mail whose subject names event, severity, code and domain and whose body has every field', async () => {
    await make(config({ to: ['oncall@example.net', 'noc@example.net'] })).send(sampleEvent(), never);

    expect(mails).toHaveLength(1);
    const mail = mails[0]!;
    expect(mail.from).toBe('mxwatch@alerts.example.org');
    expect(mail.to).toEqual(['oncall@example.net', 'noc@example.net']);
    expect(mail.headers.get('subject')).toBe('[mxwatch] OPENED critical STARTTLS_NOT_OFFERED on example.com');
    expect(mail.headers.get('x-mxwatch-event')).toBe('opened');
    expect(mail.headers.get('x-mxwatch-finding')).toBe('f-0001');
    expect(mail.headers.get('auto-submitted')).toBe('auto-generated');
    expect(mail.body).toBe(
      [
        'OPENED critical STARTTLS_NOT_OFFERED on example.com',
        '',
        'mx1.example.com (192.0.2.10) port 25 does not offer STARTTLS',
        '',
        'Event:       opened',
        'Domain:      example.com',
        'Labels:      env=prod, team=mail',
        'Code:        STARTTLS_NOT_OFFERED',
        'Severity:    critical',
        'Probe:       starttls',
        'Target:      mx1.example.com[192.0.2.10]:25',
        'Finding id:  f-0001',
        'First seen:  2026-03-01T10:00:00.000Z',
        'Last seen:   2026-03-01T10:05:00.000Z',
        'Resolved:    -',
        'Sent:        2026-03-01T10:05:01.000Z',
        '',
        'Remediation:',
        sampleEvent().finding.remediation,
        '',
        'Evidence:',
        '  ehlo: ["PIPELINING","SIZE 10240000"]',
        '  host: mx1.example.com',
        '  ip: 192.0.2.10',
        '  port: 25',
        '',
        'Status: http://mxwatch.test/api/v1/domains/example.com/status',
        '',
      ].join('\n'),
    );
  });

  it('should send one mail for a grouped message, listing every finding and referring to each finding\'s thread', async () => {
    const event = sampleGroupedEvent();
    await make(config()).send(event, never);
    expect(mails).toHaveLength(1);
    const mail = mails[0]!;
    expect(mail.headers.get('subject')).toBe('[mxwatch] OPENED critical STARTTLS_NOT_OFFERED and 1 more on example.com; 1 resolved');
    const from = 'mxwatch <mxwatch@alerts.example.org>';
    const ids = event.findings.map((f) => openedMessageId({ ...event, finding: f }, from));
    expect(mail.headers.get('message-id')).toBe(ids[0]);
    expect(String(mail.headers.get('references')).split(/\s+/)).toEqual(ids.slice(1));
    expect(mail.body).toContain('2 findings opened, 1 resolved on example.com in one check.');
    expect(mail.body).toContain('1. OPENED critical STARTTLS_NOT_OFFERED');
    expect(mail.body).toContain('2. OPENED warning TLS_CERT_EXPIRING');
    expect(mail.body).toContain('3. RESOLVED critical DNSBL_LISTED');
    expect(mail.body).toContain('   Resolved:    2026-03-01T10:05:00.000Z');
    expect(mail.body).toContain('Status: http://mxwatch.test/api/v1/domains/example.com/status');
  });

  it('should thread the resolution under the mail that opened the finding', async () => {
    const n = make(config());
    const opened = sampleEvent();
    const resolved = sampleEvent({ kind: 'resolved' });
    resolved.finding.resolvedAt = new Date('2026-03-01T12:00:00.000Z');
    await n.send(opened, never);
    await n.send(resolved, never);

    const id = openedMessageId(opened, 'mxwatch <mxwatch@alerts.example.org>');
    expect(id).toBe(`<mxwatch.f-0001.${opened.finding.firstSeenAt.getTime()}@alerts.example.org>`);
    expect(mails[0]!.headers.get('message-id')).toBe(id);
    expect(mails[1]!.headers.get('subject')).toBe('[mxwatch] RESOLVED critical STARTTLS_NOT_OFFERED on example.com');
    expect(mails[1]!.headers.get('in-reply-to')).toBe(id);
    expect(mails[1]!.headers.get('references')).toBe(id);
    expect(mails[1]!.body).toContain('Resolved:    2026-03-01T12:00:00.000Z');
  });

  it('should authenticate to the relay with the configured credentials', async () => {
    // This relay offers no STARTTLS: only a channel that says allowInsecureAuth may log in to it.
    await make(config({}, { user: 'relay-user', pass: 'relay-pass', allowInsecureAuth: true })).send(sampleEvent(), never);
    expect(auths).toEqual([{ user: 'relay-user', pass: 'relay-pass' }]);
    expect(mails).toHaveLength(1);
  });

  it.each([
    ['STARTTLS left to the relay', { ignoreTLS: false }],
    ['ignoreTLS set', { ignoreTLS: true }],
  ])('should never send the password to a relay that offers no STARTTLS (%s)', async (_what, tlsOptions) => {
    const err = await failure(make(config({}, { user: 'relay-user', pass: 'relay-pass', ...tlsOptions })));
    expect(auths).toEqual([]);
    expect(mails).toEqual([]);
    // Our configuration cannot work with this relay as it is: resending changes nothing.
    expect(err).toMatchObject({ retryable: false, code: 'rejected' });
  });

  describe('with a relay that advertises AUTH and no STARTTLS (as when STARTTLS is stripped on the path)', () => {
    let stripped: TcpServer;
    let received = '';

    beforeAll(async () => {
      stripped = createTcpServer((s) => {
        s.write('220 relay.test ESMTP\r\n');
        s.on('data', (chunk: Buffer) => {
          received += chunk.toString('latin1');
          for (const line of chunk.toString('latin1').split('\r\n').filter(Boolean)) {
            const verb = line.split(' ')[0]!.toUpperCase();
            if (verb === 'EHLO') s.write('250-relay.test\r\n250-AUTH PLAIN LOGIN\r\n250 8BITMIME\r\n');
            else if (verb === 'QUIT') s.end('221 bye\r\n');
            // Refusing the login still shows whether the client sent it.
            else if (verb === 'AUTH') s.write('535 5.7.8 authentication failed\r\n');
            else s.write('502 5.5.1 not implemented\r\n');
          }
        });
      });
      await new Promise<void>((resolve) => stripped.listen(0, '127.0.0.1', resolve));
    });
    afterAll(async () => new Promise<void>((resolve) => stripped.close(() => resolve())));

    const secretForms = (user: string, pass: string) => [
      pass,
      Buffer.from(pass).toString('base64'),
      Buffer.from(`\u0000${user}\u0000${pass}`).toString('base64'),
    ];

    it('should send no AUTH and no password, in any encoding', async () => {
      received = '';
      const strippedPort = (stripped.address() as AddressInfo).port;
      await failure(make(config({}, { port: strippedPort, ignoreTLS: false, user: 'relay-user', pass: 'relay-pass' })));
      expect(received).toMatch(/^EHLO /);
      expect(received).toContain('STARTTLS');
      expect(received).not.toMatch(/^AUTH/im);
      for (const form of secretForms('relay-user', 'relay-pass')) expect(received).not.toContain(form);
    });

    it('should log in in clear text only when the channel says allowInsecureAuth', async () => {
      received = '';
      const strippedPort = (stripped.address() as AddressInfo).port;
      await failure(make(config({}, { port: strippedPort, ignoreTLS: false, user: 'relay-user', pass: 'relay-pass', allowInsecureAuth: true })));
      expect(received).toMatch(/^AUTH /im);
    });
  });

  it('should report a permanent 5xx refusal as final', async () => {
    rcptRule = () => ({ code: 550, message: '5.1.1 <ceo@internal.example> No such user here' });
    const err = await failure(make(config()));
    expect(err).toMatchObject({ retryable: false, code: 'rejected', status: 550 });
    // The relay's reply text may name internal mailboxes; the stored reason keeps the codes only.
    expect(err.message).toBe(`127.0.0.1:${port} refused: 550 5.1.1`);
  });

  it('should report a transient 4xx refusal as retryable', async () => {
    rcptRule = () => ({ code: 451, message: 'Try again later' });
    expect(await failure(make(config()))).toMatchObject({ retryable: true, code: 'rejected', status: 451 });
  });

  it('should report recipients refused while others accepted as final, so a retry does not duplicate', async () => {
    rcptRule = (address) => (address === 'gone@example.net' ? { code: 550, message: 'No such user here' } : null);
    const err = await failure(make(config({ to: ['oncall@example.net', 'gone@example.net'] })));
    expect(err).toMatchObject({ retryable: false, code: 'rejected' });
    expect(err.message).toBe('127.0.0.1 refused recipients gone@example.net');
    expect(mails.map((m) => m.to)).toEqual([['oncall@example.net']]);
  });

  it('should report a refused connection as a retryable network error', async () => {
    const dead = await closedPort();
    const err = await failure(make(config({}, { port: dead })));
    expect(err).toMatchObject({ retryable: true, code: 'network' });
  });

  describe('with a relay that accepts and never greets', () => {
    let mute: TcpServer;
    const sockets = new Set<Socket>();

    beforeAll(async () => {
      mute = createTcpServer((s) => {
        sockets.add(s);
        s.on('close', () => sockets.delete(s));
      });
      await new Promise<void>((resolve) => mute.listen(0, '127.0.0.1', resolve));
    });
    afterAll(async () => {
      for (const s of sockets) s.destroy();
      await new Promise<void>((resolve) => mute.close(() => resolve()));
    });

    it('should report the greeting timeout as retryable', async () => {
      const mutePort = (mute.address() as AddressInfo).port;
      const err = await failure(make(config({}, { port: mutePort }), { greetingTimeoutMs: 200 }));
      expect(err).toMatchObject({ retryable: true, code: 'timeout' });
    });

    it('should give up when the whole send exceeds its deadline', async () => {
      const mutePort = (mute.address() as AddressInfo).port;
      const err = await failure(make(config({}, { port: mutePort }), { sendTimeoutMs: 200 }));
      expect(err).toMatchObject({ retryable: true, code: 'timeout' });
      expect(err.message).toBe(`127.0.0.1:${mutePort} did not accept the message within 200 ms`);
    });

    it('should stop when the caller aborts', async () => {
      const mutePort = (mute.address() as AddressInfo).port;
      const controller = new AbortController();
      const pending = failure(make(config({}, { port: mutePort })), controller.signal);
      while (sockets.size === 0) await new Promise((r) => setImmediate(r));
      controller.abort();
      expect(await pending).toMatchObject({ code: 'aborted' });
    });
  });

  it('should close pooled relay connections on close()', async () => {
    const n = make(config());
    await n.send(sampleEvent(), never);
    expect(closes).toBe(0);
    await n.close();
    notifier = undefined;
    while (closes === 0) await new Promise((r) => setImmediate(r));
    expect(closes).toBe(1);
  });
});
