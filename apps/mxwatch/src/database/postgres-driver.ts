import pg from 'pg';
import { DatabaseSetupError } from './database-setup.error.js';

export interface PostgresLocation {
  /** `host:port` as an operator would type it, for error messages. */
  readonly endpoint: string;
  readonly database: string;
  /** The URL with its password replaced, safe to log. */
  readonly redactedUrl: string;
}

/** Validates a PostgreSQL URL up front so that a typo is reported as such, not as a network error. */
export function parsePostgresUrl(url: string): PostgresLocation {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    throw new DatabaseSetupError(
      'bad_url',
      'DATABASE_URL is not a valid URL; expected postgresql://user:password@host:5432/database',
    );
  }
  if (parsed.protocol !== 'postgres:' && parsed.protocol !== 'postgresql:') {
    throw new DatabaseSetupError(
      'bad_url',
      `DATABASE_URL must start with postgresql:// or postgres://, got "${parsed.protocol}//"; expected postgresql://user:password@host:5432/database`,
    );
  }
  // libpq allows the host in the query string (unix sockets): postgresql:///db?host=/run/postgresql
  const host = parsed.hostname || parsed.searchParams.get('host') || 'localhost';
  const port = parsed.port || parsed.searchParams.get('port') || '5432';
  const database = decodeURIComponent(parsed.pathname.replace(/^\//, '')) || decodeURIComponent(parsed.username) || 'postgres';
  const redacted = new URL(url);
  if (redacted.password) redacted.password = '***';
  return { endpoint: `${host}:${port}`, database, redactedUrl: redacted.toString() };
}

// OIDs of catalog types that adapter-pg 7.10.0 refuses to map (UnsupportedNativeDataType) but that
// the schema engine selects when it inspects a database (pg_class.relkind, pg_constraint.contype,
// pg_index.indkey ...). Their text form is all the engine needs.
const CATALOG_TYPES_AS_TEXT = new Set([
  18, // "char"
  22, // int2vector
  24, // regproc
  28, // xid
  29, // cid
  30, // oidvector
  194, // pg_node_tree
  2205, // regclass
  2206, // regtype
  4089, // regnamespace
  4096, // regrole
]);
const TEXT_OID = 25;

function retypeCatalogFields(result: unknown): void {
  const results = Array.isArray(result) ? result : [result];
  for (const one of results) {
    const fields = (one as { fields?: Array<{ dataTypeID: number }> } | null)?.fields;
    if (!fields) continue;
    for (const field of fields) {
      if (CATALOG_TYPES_AS_TEXT.has(field.dataTypeID)) field.dataTypeID = TEXT_OID;
    }
  }
}

/**
 * A pg.Client whose results report PostgreSQL's catalog-only types as text. adapter-pg decides
 * column types from `fields[].dataTypeID`, so this is the one place to intervene; the values are
 * already strings because pg has no parser for these OIDs.
 */
export class CatalogTolerantClient extends pg.Client {
  // pg's query() has a dozen overloads (promise, callback, submittable); this forwards all of them.
  override query(...args: unknown[]): never {
    const last = args.at(-1);
    if (typeof last === 'function') {
      args[args.length - 1] = (error: unknown, result: unknown) => {
        if (!error) retypeCatalogFields(result);
        (last as (e: unknown, r: unknown) => void)(error, result);
      };
      return (super.query as (...a: unknown[]) => never)(...args);
    }
    const returned = (super.query as (...a: unknown[]) => unknown)(...args);
    if (returned instanceof Promise) {
      return returned.then((result: unknown) => {
        retypeCatalogFields(result);
        return result;
      }) as never;
    }
    return returned as never;
  }
}

export interface PostgresPoolOptions {
  max?: number;
  connectTimeoutMs?: number;
  applicationName?: string;
}

export function createPostgresPool(url: string, options: PostgresPoolOptions = {}): pg.Pool {
  return new pg.Pool({
    connectionString: url,
    Client: CatalogTolerantClient,
    max: options.max ?? 10,
    connectionTimeoutMillis: options.connectTimeoutMs ?? 10_000,
    application_name: options.applicationName ?? 'mxwatch',
  });
}

const UNREACHABLE_CODES = new Set(['ECONNREFUSED', 'ENOTFOUND', 'EAI_AGAIN', 'ETIMEDOUT', 'EHOSTUNREACH', 'ENETUNREACH', 'ECONNRESET']);

/** Turns a pg connection error into one that names what the operator has to fix. */
export function describePostgresConnectError(error: unknown, location: PostgresLocation): DatabaseSetupError {
  const err = error as { code?: string; message?: string };
  const code = err.code ?? '';
  const detail = err.message ?? String(error);
  if (UNREACHABLE_CODES.has(code) || /timeout/i.test(detail)) {
    return new DatabaseSetupError(
      'unreachable',
      `cannot reach PostgreSQL at ${location.endpoint} (${code || detail}); check DATABASE_URL and that the server is running`,
      { cause: error },
    );
  }
  // 28P01 invalid_password, 28000 invalid_authorization_specification
  if (code === '28P01' || code === '28000') {
    return new DatabaseSetupError('auth_failed', `PostgreSQL at ${location.endpoint} refused the credentials in DATABASE_URL: ${detail}`, {
      cause: error,
    });
  }
  // 3D000 invalid_catalog_name
  if (code === '3D000') {
    return new DatabaseSetupError(
      'database_missing',
      `database "${location.database}" does not exist on PostgreSQL at ${location.endpoint}; create it first (CREATE DATABASE "${location.database}")`,
      { cause: error },
    );
  }
  return new DatabaseSetupError('unreachable', `cannot connect to PostgreSQL at ${location.endpoint}: ${detail}`, { cause: error });
}

/** One round trip with a plain client, so that connection problems surface with a clear message. */
export async function checkPostgresReachable(url: string, location: PostgresLocation, timeoutMs = 10_000): Promise<void> {
  const client = new pg.Client({ connectionString: url, connectionTimeoutMillis: timeoutMs });
  // A server that drops the connection after connect emits 'error' on the client; without a listener
  // that would crash the process instead of rejecting below.
  client.on('error', () => {});
  try {
    await client.connect();
    await client.query('SELECT 1');
  } catch (error) {
    throw describePostgresConnectError(error, location);
  } finally {
    await client.end().catch(() => {});
  }
}
