import type { PGlite } from '@electric-sql/pglite';
import pg from 'pg';
import type { Prisma } from '../generated/prisma/client.js';
import { fromSqlTimestamp } from './sql-timestamp.js';

/**
 * A statement sent straight to the driver (node-postgres or PGlite), past Prisma's client engine,
 * with rows typed as `$queryRaw` types them. For the statements every check runs: through
 * `$queryRaw`, Prisma's engine spent ~0.4 ms of CPU per statement on a check's 10-20 KB JSON
 * parameter (its query compiler and interpreter, and the garbage they leave), more than the
 * statement's own I/O (bench/README.md). Errors are the driver's own: SQLSTATE in `code`, which
 * storage/database-errors.ts and `sqlStateOf` read.
 */
export type DirectSql = <T>(query: Prisma.Sql) => Promise<T[]>;

const INT8 = 20;
const TIMESTAMP = 1114;

/**
 * The result types where the drivers and Prisma differ: node-postgres gives int8 as a string and
 * `timestamp` (without time zone) in the process's local time zone, PGlite int8 as a number when
 * it fits and `timestamp` in local time too. Prisma gives BigInt and UTC; so does this.
 */
const PARSERS: Record<number, (text: string) => unknown> = {
  [INT8]: (text) => BigInt(text),
  [TIMESTAMP]: (text) => (text === 'infinity' ? Infinity : text === '-infinity' ? -Infinity : fromSqlTimestamp(text)),
};

/**
 * A parameter as the drivers should send it. A Date goes as ISO 8601 in UTC: a `timestamp`
 * column ignores the zone and keeps the UTC wall time, as Prisma stores it (node-postgres would
 * send local time). A BigInt goes as its digits.
 */
function toParameter(value: unknown): unknown {
  if (value instanceof Date) return value.toISOString();
  if (typeof value === 'bigint') return value.toString();
  if (Array.isArray(value)) return value.map(toParameter);
  return value;
}

const PG_TYPES = {
  getTypeParser: ((oid: number, format?: string) => PARSERS[oid] ?? pg.types.getTypeParser(oid, format as 'text')) as typeof pg.types.getTypeParser,
};

export function directSqlOverPool(pool: pg.Pool): DirectSql {
  return async <T>(query: Prisma.Sql) => {
    const result = await pool.query({ text: query.text, values: query.values.map(toParameter), types: PG_TYPES });
    return result.rows as T[];
  };
}

export function directSqlOverPGlite(pglite: PGlite): DirectSql {
  return async <T>(query: Prisma.Sql) => {
    const result = await pglite.query<T>(query.text, query.values.map(toParameter), { parsers: PARSERS });
    return result.rows;
  };
}

/** The SQLSTATE of a driver's error (`23505` unique violation, `23503` foreign key ...), if it has one. */
export function sqlStateOf(error: unknown): string | undefined {
  const code = (error as { code?: unknown } | null)?.code;
  return typeof code === 'string' && /^[0-9A-Z]{5}$/.test(code) ? code : undefined;
}
