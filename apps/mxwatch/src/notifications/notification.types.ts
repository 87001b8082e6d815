/**
 * Vocabulary shared by the alerting service and the notification channels. Channels are pure
 * TypeScript (no Nest, no Prisma) so they can be tested against real local servers.
 */
import type { ProbeName } from '../probes/probe.types.js';
import type { Severity } from '../findings/finding-catalog.js';

export type { Severity } from '../findings/finding-catalog.js';

export const NOTIFICATION_KINDS = ['opened', 'resolved', 'test', 'change'] as const;
export type NotificationKind = (typeof NOTIFICATION_KINDS)[number];

export interface NotificationFinding {
  id: string;
  /** A catalog code, or `MXWATCH_TEST` for a test notification. */
  code: string;
  severity: Severity;
  /** A probe name; `string` rather than `ProbeName` so a synthetic test finding fits. */
  probe: ProbeName | (string & {});
  target: string;
  message: string;
  remediation: string;
  evidence: Record<string, unknown>;
  firstSeenAt: Date;
  lastSeenAt: Date;
  resolvedAt: Date | null;
}

/**
 * One item of a grouped message, with what happened to it in the run: a finding opened or
 * resolved, or a change of published policy (`change`, code `POLICY_CHANGED`, its text as the message).
 */
export interface NotificationItem extends NotificationFinding {
  event: 'opened' | 'resolved' | 'change';
}

/**
 * One message: everything one run opened and resolved for one domain (a test carries one item),
 * or for mxwatch itself (`domain` null: its resolver does not validate, its DNSBL queries go
 * through a public resolver; raised once for every domain). `kind` is `opened` when anything
 * opened, else `resolved`.
 */
export interface NotificationEvent {
  kind: NotificationKind;
  /** null: the message is about mxwatch itself, not about a domain. */
  domain: string | null;
  domainLabels: Record<string, string>;
  /** The headline item (the most severe opened one, else the most severe resolved one). */
  finding: NotificationFinding;
  /** Every item of the message, headline first: opened before resolved, then by severity, code, target. */
  findings: NotificationItem[];
  /** Absolute link to the domain's status page; for a message about mxwatch itself, the overview (its banner). */
  statusUrl: string;
  /** When the alerting service decided to notify; identical for every channel and retry. */
  sentAt: Date;
}

// ---------------------------------------------------------------------------------------------
// Channel configuration (YAML `notifications:` list; `MXWATCH_WEBHOOK_URL` maps to a webhook)
// ---------------------------------------------------------------------------------------------

// The channel shapes are settings: config/ validates them and owns their types.
export type {
  ChannelConfig,
  ChannelType,
  EmailChannelConfig,
  SlackChannelConfig,
  SmtpRelayConfig,
  WebhookChannelConfig,
} from '../config/notification-channels.js';
export { CHANNEL_TYPES } from '../config/notification-channels.js';
import type { ChannelType } from '../config/notification-channels.js';

// ---------------------------------------------------------------------------------------------
// Notifier contract
// ---------------------------------------------------------------------------------------------

export interface Notifier {
  readonly name: string;
  readonly type: ChannelType;
  /**
   * Delivers one event. Resolves once the receiver accepted it; rejects with a `NotifierError`
   * only. Aborting `signal` (shutdown) rejects with code `aborted`.
   */
  send(event: NotificationEvent, signal: AbortSignal): Promise<void>;
  /** Releases pooled connections; called once on shutdown. */
  close?(): Promise<void>;
}

/**
 * Why a delivery failed, as data the attempt log can store and the retry loop can branch on.
 * `rejected`: the receiver answered and refused (HTTP status or SMTP reply in `status`).
 */
export type NotifierErrorCode = 'rejected' | 'timeout' | 'network' | 'aborted' | 'unexpected';

export class NotifierError extends Error {
  override readonly name = 'NotifierError';
  readonly retryable: boolean;
  readonly code: NotifierErrorCode;
  /** HTTP status or SMTP reply code when the receiver answered. */
  readonly status?: number;
  /** The receiver's Retry-After, which the retry loop honours as a lower bound. */
  readonly retryAfterMs?: number;

  constructor(
    message: string,
    init: { retryable: boolean; code: NotifierErrorCode; status?: number; retryAfterMs?: number; cause?: unknown },
  ) {
    super(message, init.cause === undefined ? undefined : { cause: init.cause });
    this.retryable = init.retryable;
    this.code = init.code;
    if (init.status !== undefined) this.status = init.status;
    if (init.retryAfterMs !== undefined) this.retryAfterMs = init.retryAfterMs;
  }
}

/**
 * 408 and 429 are the receiver asking us to come back; every other 4xx means the request
 * itself is wrong (bad URL, revoked token, archived channel) and resending cannot fix it.
 */
export function isRetryableHttpStatus(status: number): boolean {
  return status >= 500 || status === 408 || status === 429;
}

export const SEVERITY_RANK: Readonly<Record<Severity, number>> = { critical: 3, warning: 2, info: 1 };
