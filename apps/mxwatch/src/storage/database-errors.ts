/**
 * Telling "the database is not there" (down, restarting, unreachable, out of connections) from
 * every other error, so the API can answer 503 with Retry-After, the logs can say it once per
 * outage, and a finished check can be kept until the database is back. What each layer throws,
 * as seen against a real PostgreSQL behind a proxy that was stopped:
 * - Prisma: `P1001` (can't reach) with `meta.driverAdapterError.cause.kind = 'DatabaseNotReachable'`,
 *   `P2010` for a raw query ("Can't reach database server"), `P1017` (connection closed), `P2024`
 *   (pool timeout), and an initialisation error;
 * - node-postgres itself, unwrapped: "Connection terminated unexpectedly", socket errors
 *   (ECONNREFUSED, ECONNRESET), and server codes 08xxx (connection), 57P0x (shutting down), 53300.
 */

/** Thrown when work could not be stored because the database is unavailable. */
export class DatabaseUnavailableError extends Error {
  override readonly name = 'DatabaseUnavailableError';
}

const PRISMA_CODES = new Set(['P1001', 'P1002', 'P1008', 'P1017', 'P2024']);
const ADAPTER_KINDS = new Set(['DatabaseNotReachable', 'ConnectionClosed', 'SocketTimeout', 'TooManyConnections', 'DatabaseAccessDenied']);
const SOCKET_CODES = new Set(['ECONNREFUSED', 'ECONNRESET', 'ETIMEDOUT', 'EPIPE', 'EHOSTUNREACH', 'ENETUNREACH', 'EAI_AGAIN', 'ENOTFOUND']);
const MESSAGES = /Connection terminated|Can't reach database server|Connection closed|connection timeout|timeout exceeded when trying to connect|Client has encountered a connection error|the database system is (starting up|shutting down|in recovery mode)|terminating connection due to administrator command|is not currently accepting connections/i;

export function isDatabaseUnavailable(err: unknown, depth = 0): boolean {
  if (depth > 6 || typeof err !== 'object' || err === null) return false;
  if (err instanceof DatabaseUnavailableError) return true;
  const e = err as { name?: unknown; code?: unknown; kind?: unknown; message?: unknown; cause?: unknown; meta?: { driverAdapterError?: unknown }; errors?: unknown };
  if (e.name === 'PrismaClientInitializationError') return true;
  if (typeof e.code === 'string') {
    if (PRISMA_CODES.has(e.code) || SOCKET_CODES.has(e.code)) return true;
    if (/^08\w{3}$/.test(e.code) || /^57P0\d$/.test(e.code) || e.code === '53300') return true;
  }
  if (typeof e.kind === 'string' && ADAPTER_KINDS.has(e.kind)) return true;
  if (typeof e.message === 'string' && MESSAGES.test(e.message)) return true;
  if (Array.isArray(e.errors) && e.errors.some((x) => isDatabaseUnavailable(x, depth + 1))) return true;
  return isDatabaseUnavailable(e.cause, depth + 1) || isDatabaseUnavailable(e.meta?.driverAdapterError, depth + 1);
}
