import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { NotificationEvent, NotificationFinding } from '../notification.types.js';

export function sampleFinding(overrides: Partial<NotificationFinding> = {}): NotificationFinding {
  return {
    id: 'f-0001',
    code: 'STARTTLS_NOT_OFFERED',
    severity: 'critical',
    probe: 'starttls',
    target: 'mx1.example.com[192.0.2.10]:25',
    message: 'mx1.example.com (192.0.2.10) port 25 does not offer STARTTLS',
    remediation:
      'Enable STARTTLS with a valid certificate (Postfix: smtpd_tls_security_level = may, smtpd_tls_chain_files; Exim: tls_advertise_hosts = *). Without it mail travels in clear text.',
    evidence: { host: 'mx1.example.com', ip: '192.0.2.10', port: 25, ehlo: ['PIPELINING', 'SIZE 10240000'] },
    firstSeenAt: new Date('2026-03-01T10:00:00.000Z'),
    lastSeenAt: new Date('2026-03-01T10:05:00.000Z'),
    resolvedAt: null,
    ...overrides,
  };
}

/** A one-finding message; its `findings` follow `finding` (tests edit `finding` in place). */
export function sampleEvent(overrides: Partial<NotificationEvent> = {}): NotificationEvent {
  const finding = overrides.finding ?? sampleFinding();
  const kind = overrides.kind ?? 'opened';
  const event: NotificationEvent = {
    kind,
    domain: 'example.com',
    domainLabels: { env: 'prod', team: 'mail' },
    finding,
    findings: [],
    statusUrl: 'http://mxwatch.test/api/v1/domains/example.com/status',
    sentAt: new Date('2026-03-01T10:05:01.000Z'),
    ...overrides,
  };
  if (overrides.findings === undefined) {
    Object.defineProperty(event, 'findings', {
      enumerable: true,
      get: () => [{ ...event.finding, event: event.kind === 'resolved' ? 'resolved' : 'opened' }],
    });
  }
  return event;
}

/** Three findings one run opened and resolved on example.com (as the grouping orders them). */
export function sampleGroupedEvent(): NotificationEvent {
  const starttls = sampleFinding();
  const cert = sampleFinding({
    id: 'f-0002',
    code: 'TLS_CERT_EXPIRING',
    severity: 'warning',
    probe: 'starttls',
    target: 'mx2.example.com[192.0.2.11]:25',
    message: 'The certificate of mx2.example.com expires in 9 days',
    remediation: 'Renew the certificate.',
    evidence: { host: 'mx2.example.com', daysLeft: 9 },
  });
  const listed = sampleFinding({
    id: 'f-0003',
    code: 'DNSBL_LISTED',
    severity: 'critical',
    probe: 'dnsbl',
    target: '192.0.2.10@zen.spamhaus.org',
    message: '192.0.2.10 is listed on zen.spamhaus.org',
    remediation: 'Ask for delisting.',
    evidence: { ip: '192.0.2.10' },
    resolvedAt: new Date('2026-03-01T10:05:00.000Z'),
  });
  return sampleEvent({
    kind: 'opened',
    finding: starttls,
    findings: [
      { ...starttls, event: 'opened' },
      { ...cert, event: 'opened' },
      { ...listed, event: 'resolved' },
    ],
  });
}

export interface ReceivedRequest {
  method: string;
  url: string;
  headers: IncomingMessage['headers'];
  body: string;
}

/** What the receiver does with one request: answer with a status, or never answer. */
export type Reply = { status: number; body?: string; headers?: Record<string, string> } | 'hang';

/**
 * A real HTTP receiver on 127.0.0.1 that records requests and answers from a script of
 * replies (the last one repeats), for webhook and chat notifier tests.
 */
export class HttpReceiver {
  readonly requests: ReceivedRequest[] = [];
  private replies: Reply[] = [{ status: 200, body: 'ok' }];
  private readonly server: Server;

  private constructor() {
    this.server = createServer((req, res) => this.handle(req, res));
  }

  static async start(): Promise<HttpReceiver> {
    const receiver = new HttpReceiver();
    await new Promise<void>((resolve) => receiver.server.listen(0, '127.0.0.1', resolve));
    return receiver;
  }

  get url(): string {
    const { port } = this.server.address() as AddressInfo;
    return `http://127.0.0.1:${port}`;
  }

  script(...replies: Reply[]): void {
    this.replies = replies;
    this.requests.length = 0;
  }

  async stop(): Promise<void> {
    // Hung requests and keep-alive sockets would hold close() open forever.
    this.server.closeAllConnections();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  private handle(req: IncomingMessage, res: ServerResponse): void {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      this.requests.push({ method: req.method ?? '', url: req.url ?? '', headers: req.headers, body: Buffer.concat(chunks).toString('utf8') });
      const reply = this.replies.length > 1 ? this.replies.shift()! : this.replies[0]!;
      if (reply === 'hang') return;
      res.writeHead(reply.status, { 'Content-Type': 'text/plain', ...reply.headers });
      res.end(reply.body ?? '');
    });
  }
}

/** A loopback port nothing listens on: bound then released. */
export async function closedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

