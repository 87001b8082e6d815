import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { NotificationEvent } from '../notification.types.js';

export function sampleEvent(overrides: Partial<NotificationEvent> = {}): NotificationEvent {
  return {
    kind: 'opened',
    domain: 'example.com',
    domainLabels: { env: 'prod', team: 'mail' },
    finding: {
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
    },
    statusUrl: 'http://mxwatch.test/api/v1/domains/example.com/status',
    sentAt: new Date('2026-03-01T10:05:01.000Z'),
    ...overrides,
  };
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

/** Retry tests must not wait for real backoff; this records the delays asked for instead. */
export function recordingSleep(): { delays: number[]; sleep: (ms: number) => Promise<void> } {
  const delays: number[] = [];
  return { delays, sleep: async (ms) => void delays.push(ms) };
}
