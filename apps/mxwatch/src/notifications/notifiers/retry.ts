/**
 * How long and how often a failed delivery is retried, Alertmanager-style: exponential backoff
 * from one second that grows to minutes, for hours (MXWATCH_NOTIFY_RETRY_HOURS). A receiver down
 * for a night still gets the page in the morning; each attempt is one row update, so the
 * schedule survives a restart.
 */
import { NotifierError, type NotificationEvent, type Notifier, type NotifierErrorCode } from '../notification.types.js';

export interface DeliveryAttempt {
  /** 1-based. */
  n: number;
  ok: boolean;
  startedAt: Date;
  durationMs: number;
  /** Short, redacted failure reason: never a receiver's body nor a webhook token. */
  error?: string;
  code?: NotifierErrorCode;
  /** HTTP status or SMTP reply code when the receiver answered. */
  status?: number;
  retryable?: boolean;
  /** Wait before the next attempt; absent when this attempt was the last. */
  nextDelayMs?: number;
}

export interface RetryPolicy {
  baseDelayMs: number;
  maxDelayMs: number;
  /** A receiver's Retry-After is honoured up to this. */
  maxRetryAfterMs: number;
}

export const DEFAULT_RETRY_POLICY: RetryPolicy = { baseDelayMs: 1000, maxDelayMs: 10 * 60_000, maxRetryAfterMs: 60 * 60_000 };

/**
 * Wait before attempt n+1 after attempt n failed: min(max, base * 2^(n-1)), with "equal jitter"
 * (uniform in the upper half) so channels failing together do not come back in lock-step yet the
 * wait still grows. A receiver's Retry-After raises it.
 */
export function retryDelay(n: number, opts: RetryPolicy & { random: () => number; retryAfterMs?: number }): number {
  const ceiling = Math.min(opts.maxDelayMs, opts.baseDelayMs * 2 ** Math.min(n - 1, 40));
  const jittered = Math.floor(ceiling / 2 + opts.random() * (ceiling / 2));
  return Math.max(jittered, Math.min(opts.retryAfterMs ?? 0, opts.maxRetryAfterMs));
}

export interface AttemptOutcome {
  ok: boolean;
  startedAt: Date;
  durationMs: number;
  error: NotifierError | null;
}

/** One delivery attempt. Never throws: a notifier bug is an outcome too. */
export async function attemptDelivery(notifier: Notifier, event: NotificationEvent, signal: AbortSignal): Promise<AttemptOutcome> {
  const startedAt = new Date();
  const started = performance.now();
  let error: NotifierError | null = null;
  try {
    await notifier.send(event, signal);
  } catch (err) {
    error = toNotifierError(err);
  }
  return { ok: error === null, startedAt, durationMs: Math.round(performance.now() - started), error };
}

export type NextStep = { status: 'sent' } | { status: 'failed' } | { status: 'pending'; delayMs: number };

/** What follows an attempt: delivered, given up (final error, or the retry window is over), or retried later. */
export function nextStep(outcome: AttemptOutcome, n: number, now: Date, retryUntil: Date, policy: RetryPolicy, random: () => number): NextStep {
  if (outcome.ok) return { status: 'sent' };
  const error = outcome.error!;
  if (!error.retryable) return { status: 'failed' };
  const delayMs = retryDelay(n, { ...policy, random, ...(error.retryAfterMs === undefined ? {} : { retryAfterMs: error.retryAfterMs }) });
  if (now.getTime() + delayMs > retryUntil.getTime()) return { status: 'failed' };
  return { status: 'pending', delayMs };
}

/** The attempt-log entry for an outcome. */
export function attemptRecord(outcome: AttemptOutcome, n: number, step: NextStep): DeliveryAttempt {
  if (outcome.ok) return { n, ok: true, startedAt: outcome.startedAt, durationMs: outcome.durationMs };
  const e = outcome.error!;
  return {
    n,
    ok: false,
    startedAt: outcome.startedAt,
    durationMs: outcome.durationMs,
    error: redactReason(e.message),
    code: e.code,
    ...(e.status === undefined ? {} : { status: e.status }),
    retryable: e.retryable,
    ...(step.status === 'pending' ? { nextDelayMs: step.delayMs } : {}),
  };
}

const MAX_REASON_CHARS = 160;

/**
 * A failure reason fit to store and serve: one line, short, URLs cut to scheme and host (chat
 * webhook URLs carry their token in the path), no query strings, no control characters.
 * Also applied when serving rows stored by older versions, which kept receivers' bodies.
 */
export function redactReason(text: string): string {
  let out = text
    .replace(/[\u0000-\u001f\u007f]+/g, ' ')
    .replace(/\b([a-z][a-z0-9+.-]*:\/\/)([^\s/?#@]*@)?([^\s/?#]+)[^\s]*/gi, '$1$3')
    .replace(/\s+/g, ' ')
    // Older versions appended the receiver's answer after these; it is not ours to show.
    .replace(/(answered HTTP \d{3}(?: \([^)]*\))?):.*$/, '$1')
    .replace(/(refused: \d{3}(?: [245]\.\d{1,3}\.\d{1,3})?)\b.*$/, '$1')
    .trim();
  if (out.length > MAX_REASON_CHARS) out = `${out.slice(0, MAX_REASON_CHARS - 1)}…`;
  return out;
}

/** A notifier that throws anything but a NotifierError has a bug; retrying would repeat it. */
function toNotifierError(err: unknown): NotifierError {
  if (err instanceof NotifierError) return err;
  const message = err instanceof Error ? err.message : String(err);
  return new NotifierError(`notifier failed unexpectedly: ${message}`, { retryable: false, code: 'unexpected', cause: err });
}
