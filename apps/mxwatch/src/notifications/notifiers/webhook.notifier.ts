/**
 * Generic JSON webhook.
 *
 * Request: `POST <url>`, `Content-Type: application/json`, `User-Agent: mxwatch`, body
 * `WebhookPayloadV1` (below). Headers:
 * - `X-Mxwatch-Event`: `opened` | `resolved` | `test`
 * - `X-Mxwatch-Delivery`: the same value for every retry of one event, so a receiver can
 *   drop duplicates (a retry after a lost 2xx is the receiver's to de-duplicate).
 * - with a secret: `X-Mxwatch-Timestamp` (Unix seconds when this attempt was made) and
 *   `X-Mxwatch-Signature: sha256=<hex HMAC-SHA256(secret, "<timestamp>.<raw body>")>`.
 *
 * Verifying (any language): take the raw request body bytes before any JSON parsing,
 * compute HMAC-SHA256 with the shared secret over the timestamp header, a `.`, and the body;
 * compare its hex digest with the signature header in constant time; reject timestamps more
 * than a few minutes from your clock. The timestamp is signed so a captured request cannot be
 * replayed later with a fresh timestamp. `verifyWebhookSignature` below does exactly this.
 *
 * Any 2xx is success. 408, 429 and 5xx are retried (Retry-After honoured); other 4xx and
 * redirects are not.
 */
import { createHash, createHmac, timingSafeEqual } from 'node:crypto';
import {
  NotifierError,
  type NotificationEvent,
  type NotificationFinding,
  type NotificationKind,
  type Notifier,
  type Severity,
  type WebhookChannelConfig,
} from '../notification.types.js';
import { DEFAULT_HTTP_TIMEOUT_MS, httpPost } from './http-post.js';
import { messageItems } from './notification-format.js';

export const WEBHOOK_PAYLOAD_VERSION = 1;
export const SIGNATURE_HEADER = 'X-Mxwatch-Signature';
export const TIMESTAMP_HEADER = 'X-Mxwatch-Timestamp';
export const EVENT_HEADER = 'X-Mxwatch-Event';
export const DELIVERY_HEADER = 'X-Mxwatch-Delivery';

export interface WebhookFindingV1 {
  id: string;
  code: string;
  severity: Severity;
  probe: string;
  target: string;
  message: string;
  remediation: string;
  evidence: Record<string, unknown>;
  /** ISO 8601 UTC. */
  firstSeenAt: string;
  lastSeenAt: string;
  resolvedAt: string | null;
}

/**
 * Stable wire format: fields are only ever added; a breaking change bumps `version`.
 * One body per run and domain: `findings` lists everything the run opened and resolved (each
 * with its own `event`); `finding` repeats the headline item for receivers written before
 * grouping, and `event` is `opened` when anything opened.
 */
export interface WebhookPayloadV1 {
  version: 1;
  event: NotificationKind;
  /**
   * `monitor`: the message is about mxwatch itself (its resolver does not validate DNSSEC, its
   * DNSBL queries go through a public resolver), raised once for every domain; `domain` is then null.
   */
  scope: 'domain' | 'monitor';
  /** null when `scope` is `monitor`. */
  domain: string | null;
  labels: Record<string, string>;
  finding: WebhookFindingV1;
  findings: Array<WebhookFindingV1 & { event: 'opened' | 'resolved' | 'change' }>;
  statusUrl: string;
  sentAt: string;
}

function wireFinding(f: NotificationFinding): WebhookFindingV1 {
  return {
    id: f.id,
    code: f.code,
    severity: f.severity,
    probe: f.probe,
    target: f.target,
    message: f.message,
    remediation: f.remediation,
    evidence: f.evidence,
    firstSeenAt: f.firstSeenAt.toISOString(),
    lastSeenAt: f.lastSeenAt.toISOString(),
    resolvedAt: f.resolvedAt === null ? null : f.resolvedAt.toISOString(),
  };
}

export function buildWebhookPayload(event: NotificationEvent): WebhookPayloadV1 {
  return {
    version: WEBHOOK_PAYLOAD_VERSION,
    event: event.kind,
    scope: event.domain === null ? 'monitor' : 'domain',
    domain: event.domain,
    labels: { ...event.domainLabels },
    finding: wireFinding(event.finding),
    findings: messageItems(event).map((item) => ({ event: item.event, ...wireFinding(item) })),
    statusUrl: event.statusUrl,
    sentAt: event.sentAt.toISOString(),
  };
}

/** Identical for every attempt at one event, different for each event. */
export function deliveryId(event: NotificationEvent): string {
  return createHash('sha256')
    .update(`${event.kind}\n${event.finding.id}\n${event.sentAt.toISOString()}`)
    .digest('hex')
    .slice(0, 32);
}

export function signWebhookBody(secret: string, timestamp: string, body: string): string {
  return `sha256=${createHmac('sha256', secret).update(`${timestamp}.${body}`).digest('hex')}`;
}

export interface VerifyWebhookSignatureInput {
  secret: string;
  /** `X-Mxwatch-Timestamp` header. */
  timestamp: string;
  /** The raw body exactly as received. */
  body: string | Buffer;
  /** `X-Mxwatch-Signature` header. */
  signature: string;
  toleranceSeconds?: number;
  nowSeconds?: number;
}

/** Reference receiver-side check, for operators' own code and for our tests. */
export function verifyWebhookSignature(input: VerifyWebhookSignatureInput): boolean {
  if (!/^\d+$/.test(input.timestamp)) return false;
  const now = input.nowSeconds ?? Math.floor(Date.now() / 1000);
  if (Math.abs(now - Number(input.timestamp)) > (input.toleranceSeconds ?? 300)) return false;
  const body = typeof input.body === 'string' ? input.body : input.body.toString('utf8');
  const expected = Buffer.from(signWebhookBody(input.secret, input.timestamp, body));
  const given = Buffer.from(input.signature);
  return expected.length === given.length && timingSafeEqual(expected, given);
}

export interface WebhookNotifierOptions {
  timeoutMs?: number;
  /** Unix seconds for the timestamp header. */
  nowSeconds?: () => number;
}

export class WebhookNotifier implements Notifier {
  readonly type = 'webhook' as const;
  readonly name: string;
  private readonly timeoutMs: number;
  private readonly nowSeconds: () => number;

  constructor(
    private readonly config: WebhookChannelConfig,
    options: WebhookNotifierOptions = {},
  ) {
    this.name = config.name;
    this.timeoutMs = options.timeoutMs ?? DEFAULT_HTTP_TIMEOUT_MS;
    this.nowSeconds = options.nowSeconds ?? (() => Math.floor(Date.now() / 1000));
  }

  async send(event: NotificationEvent, signal: AbortSignal): Promise<void> {
    const body = serialize(buildWebhookPayload(event));
    const headers: Record<string, string> = {
      'Content-Type': 'application/json',
      'User-Agent': 'mxwatch',
      [EVENT_HEADER]: event.kind,
      [DELIVERY_HEADER]: deliveryId(event),
    };
    if (this.config.secret) {
      // Per attempt, not per event: a retry minutes later must still fall inside the receiver's window.
      const timestamp = String(this.nowSeconds());
      headers[TIMESTAMP_HEADER] = timestamp;
      headers[SIGNATURE_HEADER] = signWebhookBody(this.config.secret, timestamp, body);
    }
    await httpPost({ url: this.config.url, body, headers, signal, timeoutMs: this.timeoutMs });
  }
}

/** Evidence is probe-supplied; a value JSON cannot carry (BigInt, cycle) is a bug, not a retry. */
export function serialize(value: unknown): string {
  try {
    return JSON.stringify(value);
  } catch (err) {
    throw new NotifierError(`could not serialise the notification: ${(err as Error).message}`, {
      retryable: false,
      code: 'unexpected',
      cause: err,
    });
  }
}
