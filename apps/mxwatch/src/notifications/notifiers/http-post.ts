import { STATUS_CODES } from 'node:http';
import { NotifierError, isRetryableHttpStatus } from '../notification.types.js';

export const DEFAULT_HTTP_TIMEOUT_MS = 10_000;

export interface HttpPostRequest {
  url: string;
  body: string;
  headers: Record<string, string>;
  /** Caller's signal (shutdown); the request also gets its own deadline. */
  signal: AbortSignal;
  timeoutMs: number;
}

/**
 * POSTs a body and maps every outcome onto `NotifierError`. Messages name the host only:
 * chat webhook URLs carry their token in the path, and these messages are stored and logged.
 */
export async function httpPost(req: HttpPostRequest): Promise<void> {
  const host = safeHost(req.url);
  const deadline = AbortSignal.timeout(req.timeoutMs);
  const signal = AbortSignal.any([req.signal, deadline]);

  let res: Response;
  try {
    res = await fetch(req.url, {
      method: 'POST',
      headers: req.headers,
      body: req.body,
      signal,
      // Following a redirect would replay a POST as a GET to wherever it points; the operator
      // should configure the final URL instead.
      redirect: 'manual',
    });
  } catch (err) {
    throw fetchFailure(err, host, req, deadline);
  }

  if (res.status >= 200 && res.status < 300) {
    // Drain so the keep-alive connection returns to the pool instead of lingering.
    await res.arrayBuffer().catch(() => undefined);
    return;
  }

  // The receiver's error body is never read into the message: it is stored and served by
  // GET /notifications, and a failing receiver's body may carry its internals (stack traces,
  // hostnames, tokens). The status code and its standard reason phrase say enough.
  await res.body?.cancel().catch(() => undefined);

  if (res.status >= 300 && res.status < 400) {
    throw new NotifierError(`${host} answered HTTP ${res.status} (redirect); configure the final URL`, {
      retryable: false,
      code: 'rejected',
      status: res.status,
    });
  }
  const retryAfterMs = parseRetryAfter(res.headers.get('retry-after'));
  const phrase = STATUS_CODES[res.status];
  throw new NotifierError(`${host} answered HTTP ${res.status}${phrase ? ` (${phrase})` : ''}`, {
    retryable: isRetryableHttpStatus(res.status),
    code: 'rejected',
    status: res.status,
    ...(retryAfterMs === undefined ? {} : { retryAfterMs }),
  });
}

function fetchFailure(err: unknown, host: string, req: HttpPostRequest, deadline: AbortSignal): NotifierError {
  if (req.signal.aborted) {
    return new NotifierError(`delivery to ${host} aborted`, { retryable: true, code: 'aborted', cause: err });
  }
  if (deadline.aborted) {
    return new NotifierError(`${host} did not answer within ${req.timeoutMs} ms`, {
      retryable: true,
      code: 'timeout',
      cause: err,
    });
  }
  // undici reports "fetch failed" and hides the useful part (ECONNREFUSED, ENOTFOUND) in `cause`.
  const cause = err instanceof Error && err.cause instanceof Error ? err.cause : err;
  const code = (cause as { code?: unknown } | null)?.code;
  const text = typeof code === 'string' ? code : cause instanceof Error ? cause.message : String(cause);
  return new NotifierError(`could not reach ${host}: ${text}`, { retryable: true, code: 'network', cause: err });
}

function safeHost(url: string): string {
  try {
    return new URL(url).host;
  } catch {
    return 'receiver';
  }
}

/** Retry-After is either delta-seconds or an HTTP date (RFC 9110 section 10.2.3). */
export function parseRetryAfter(value: string | null, now: number = Date.now()): number | undefined {
  if (value === null) return undefined;
  const trimmed = value.trim();
  if (/^\d+$/.test(trimmed)) return Number(trimmed) * 1000;
  const at = Date.parse(trimmed);
  if (Number.isNaN(at)) return undefined;
  return Math.max(0, at - now);
}
