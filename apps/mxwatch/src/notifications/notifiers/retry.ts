import { setTimeout as delay } from 'node:timers/promises';
import { NotifierError, type NotificationEvent, type Notifier, type NotifierErrorCode } from '../notification.types.js';

export interface DeliveryAttempt {
  /** 1-based. */
  n: number;
  ok: boolean;
  startedAt: Date;
  durationMs: number;
  /** Failure message, safe to store and show (never contains a webhook token). */
  error?: string;
  code?: NotifierErrorCode;
  /** HTTP status or SMTP reply code when the receiver answered. */
  status?: number;
  retryable?: boolean;
  /** Wait before the next attempt; absent when this attempt was the last. */
  nextDelayMs?: number;
}

export interface DeliverWithRetryOptions {
  /** Total attempts including the first. */
  attempts?: number;
  baseDelayMs?: number;
  maxDelayMs?: number;
  /**
   * Called after every attempt, awaited before the next one. It must handle its own errors:
   * one it throws is ignored so that a failing attempt log never stops a delivery.
   */
  onAttempt?: (attempt: DeliveryAttempt) => void | Promise<void>;
  /** Aborting (shutdown) stops waiting and cancels the attempt in flight. */
  signal?: AbortSignal;
  sleep?: (ms: number, signal: AbortSignal) => Promise<void>;
  /** [0, 1), for the jitter. */
  random?: () => number;
}

export interface DeliveryResult {
  ok: boolean;
  attempts: number;
  lastError: NotifierError | null;
}

export const DEFAULT_RETRY = { attempts: 5, baseDelayMs: 1000, maxDelayMs: 30_000 } as const;

/**
 * Exponential backoff with full jitter: wait uniformly in [0, min(max, base * 2^(n-1))), so
 * channels failing together (a receiver restarting) do not all come back in lock-step.
 * A receiver's Retry-After raises the wait (still capped by maxDelayMs).
 */
export function backoffDelay(
  n: number,
  opts: { baseDelayMs: number; maxDelayMs: number; random: () => number; retryAfterMs?: number },
): number {
  const ceiling = Math.min(opts.maxDelayMs, opts.baseDelayMs * 2 ** (n - 1));
  const jittered = Math.floor(opts.random() * ceiling);
  return Math.min(opts.maxDelayMs, Math.max(jittered, opts.retryAfterMs ?? 0));
}

/** Never throws: every outcome, including a notifier bug, is in the result. */
export async function deliverWithRetry(
  notifier: Notifier,
  event: NotificationEvent,
  options: DeliverWithRetryOptions = {},
): Promise<DeliveryResult> {
  const attempts = Math.max(1, Math.floor(options.attempts ?? DEFAULT_RETRY.attempts));
  const baseDelayMs = options.baseDelayMs ?? DEFAULT_RETRY.baseDelayMs;
  const maxDelayMs = options.maxDelayMs ?? DEFAULT_RETRY.maxDelayMs;
  const random = options.random ?? Math.random;
  const signal = options.signal ?? new AbortController().signal;
  const sleep = options.sleep ?? ((ms: number, s: AbortSignal) => delay(ms, undefined, { signal: s }));

  let lastError: NotifierError | null = null;
  let made = 0;
  for (let n = 1; n <= attempts; n++) {
    if (signal.aborted) {
      lastError = abortedError(notifier);
      break;
    }
    made = n;
    const startedAt = new Date();
    const started = performance.now();
    let error: NotifierError | null = null;
    try {
      await notifier.send(event, signal);
    } catch (err) {
      error = toNotifierError(err);
    }
    const durationMs = Math.round(performance.now() - started);

    if (error === null) {
      await report(options, { n, ok: true, startedAt, durationMs });
      return { ok: true, attempts: n, lastError: null };
    }
    lastError = error;
    const willRetry = error.retryable && n < attempts && !signal.aborted;
    const nextDelayMs = willRetry
      ? backoffDelay(n, { baseDelayMs, maxDelayMs, random, ...(error.retryAfterMs === undefined ? {} : { retryAfterMs: error.retryAfterMs }) })
      : undefined;
    await report(options, {
      n,
      ok: false,
      startedAt,
      durationMs,
      error: error.message,
      code: error.code,
      ...(error.status === undefined ? {} : { status: error.status }),
      retryable: error.retryable,
      ...(nextDelayMs === undefined ? {} : { nextDelayMs }),
    });
    if (nextDelayMs === undefined) break;
    try {
      await sleep(nextDelayMs, signal);
    } catch {
      lastError = abortedError(notifier);
      break;
    }
  }
  return { ok: false, attempts: made, lastError };
}

async function report(options: DeliverWithRetryOptions, attempt: DeliveryAttempt): Promise<void> {
  try {
    await options.onAttempt?.(attempt);
  } catch {
    // Documented: the attempt log is best effort and must not change delivery.
  }
}

function abortedError(notifier: Notifier): NotifierError {
  return new NotifierError(`delivery to ${notifier.name} aborted`, { retryable: true, code: 'aborted' });
}

/** A notifier that throws anything but a NotifierError has a bug; retrying would repeat it. */
function toNotifierError(err: unknown): NotifierError {
  if (err instanceof NotifierError) return err;
  const message = err instanceof Error ? err.message : String(err);
  return new NotifierError(`notifier failed unexpectedly: ${message}`, { retryable: false, code: 'unexpected', cause: err });
}
