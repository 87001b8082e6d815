import { fork } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { PGlite } from '@electric-sql/pglite';
import { PrismaPg } from '@prisma/adapter-pg';
import type { SqlDriverAdapterFactory } from '@prisma/driver-adapter-utils';
import { directSqlOverPGlite, directSqlOverPool, type DirectSql } from './direct-sql.js';
import { loadPGlite } from './pglite-loader.js';
import { loadQueryCompilerFromFile } from './query-compiler-file.js';
import { PrismaClient } from '../generated/prisma/client.js';
import { acquireDataDirLock, type DataDirLock } from './data-dir-lock.js';
import { DatabaseSetupError } from './database-setup.error.js';
import type { MigrateMessage, MigrateRequest } from './migrate-process.js';
import { makePrivate, PRIVATE_DIR_MODE } from './private-dir.js';
import { createPostgresPool, describePostgresConnectError, parsePostgresUrl } from './postgres-driver.js';
import { applyMigrations, type DatabaseLog } from './schema-engine.js';

/**
 * Prisma's defaults (2 s to get a connection for a transaction, 5 s to run it) turn a busy pool
 * into lost findings: a worker running 50 checks at once waited longer than 2 s in the bench and
 * the run's findings were never applied. Waiting longer is right; each check has its own deadline.
 */
const TRANSACTION_OPTIONS = { maxWait: 15_000, timeout: 30_000 };
/**
 * `minimal`: Prisma's other error formats capture a stack trace (`new Error()`) on every call to
 * point at the calling line in their messages, ~1.7% of the service's CPU in a fleet cycle. Our
 * errors are logged with their own stack and code; the message keeps Prisma's explanation.
 */
/**
 * Left out of every read through the client: `CheckRun.txid` is the metrics feed's read point,
 * read by its own SQL (storage/metrics-feed.repository.ts), and a bigint in a row would break
 * every JSON answer that spreads one.
 */
const GLOBAL_OMIT = { checkRun: { txid: true } } as const;
const CLIENT_OPTIONS = { transactionOptions: TRANSACTION_OPTIONS, errorFormat: 'minimal', omit: GLOBAL_OMIT } as const;

/** The client every repository uses: PrismaClient with the project's global omissions. */
export type Db = PrismaClient<never, typeof GLOBAL_OMIT>;

export type { DatabaseLog } from './schema-engine.js';

export interface OpenDatabaseOptions {
  /** PostgreSQL URL; unset means the embedded database in `dataDir`. */
  databaseUrl?: string;
  /** Where the embedded database lives (MXWATCH_DATA_DIR). */
  dataDir: string;
  log?: DatabaseLog;
  /** Defaults to prisma/migrations next to the code. */
  migrationsDir?: string;
  /** PostgreSQL pool size. */
  poolSize?: number;
}

export interface Database {
  readonly prisma: Db;
  readonly kind: 'postgres' | 'pglite';
  /** A statement straight to the driver, past Prisma's engine, for the statements every check runs (direct-sql.ts). */
  readonly sql: DirectSql;
  /** Rejects when the database does not answer; for readiness probes. */
  ping(): Promise<void>;
  /** Disconnects, and for the embedded database closes it and releases the data directory. */
  close(): Promise<void>;
}

/**
 * Migrates the database, then returns a PrismaClient on it: PostgreSQL through a pool when
 * `databaseUrl` is set, otherwise an embedded PGlite persisted in `dataDir`, which this process
 * then owns exclusively until `close()`.
 */
export async function openDatabase(options: OpenDatabaseOptions): Promise<Database> {
  return options.databaseUrl ? openPostgres(options.databaseUrl, options) : openEmbedded(options);
}

/** A client on `adapter` with the project's options, its query compiler compiled from its file. */
function newClient(adapter: SqlDriverAdapterFactory): Db {
  const prisma = new PrismaClient({ adapter, ...CLIENT_OPTIONS });
  loadQueryCompilerFromFile(prisma);
  return prisma;
}

function pingWith(prisma: Db): () => Promise<void> {
  return async () => {
    await prisma.$queryRaw`SELECT 1`;
  };
}

async function openPostgres(url: string, options: OpenDatabaseOptions): Promise<Database> {
  const location = parsePostgresUrl(url);
  await migratePostgres(url, options);

  const pool = createPostgresPool(url, { max: options.poolSize });
  // An idle client losing its server emits 'error' on the pool; unhandled, it would kill the process.
  pool.on('error', (error) => options.log?.(`warning: PostgreSQL connection at ${location.endpoint} lost: ${error.message}`));
  const prisma = newClient(new PrismaPg(pool));
  try {
    await prisma.$connect();
    await prisma.$queryRaw`SELECT 1`;
  } catch (error) {
    await prisma.$disconnect().catch(() => {});
    await pool.end().catch(() => {});
    throw describePostgresConnectError(error, location);
  }
  options.log?.(`database: PostgreSQL at ${location.endpoint}/${location.database}`);

  let closed = false;
  return {
    prisma,
    kind: 'postgres',
    sql: directSqlOverPool(pool),
    ping: pingWith(prisma),
    async close() {
      if (closed) return;
      closed = true;
      await prisma.$disconnect();
      await pool.end();
    },
  };
}

/**
 * Applies the migrations in a child process (migrate-process.ts), so that the schema engine's
 * memory is not the service's for the rest of its life. Run from the sources (tests), where
 * there is no compiled entry to start, the engine runs in this process. The embedded database
 * is migrated in this process always: it is open here, and PGlite allows one process.
 */
async function migratePostgres(url: string, options: OpenDatabaseOptions): Promise<void> {
  const entry = fileURLToPath(new URL('./migrate-process.js', import.meta.url));
  if (!existsSync(entry)) {
    await applyMigrations({ kind: 'postgres', url }, { log: options.log, migrationsDir: options.migrationsDir });
    return;
  }
  await new Promise<void>((resolve, reject) => {
    // Not the service's own Node flags (an --inspect port, a profiler): the engine needs none, and its baseline compiler is enough for one run.
    const child = fork(entry, [], { execArgv: ['--liftoff-only'], stdio: ['ignore', 'inherit', 'inherit', 'ipc'], serialization: 'json' });
    let settled = false;
    const settle = (error?: Error) => {
      if (settled) return;
      settled = true;
      if (error) reject(error);
      else resolve();
    };
    child.on('message', (message: MigrateMessage) => {
      if ('log' in message) options.log?.(message.log);
      else if ('done' in message) settle();
      else settle(new DatabaseSetupError(message.failed.reason ?? 'migration_failed', message.failed.message));
    });
    child.once('error', (error) => settle(new DatabaseSetupError('migration_failed', `could not start the migration process: ${error.message}`, { cause: error })));
    child.once('close', (code, signal) => settle(new DatabaseSetupError('migration_failed', `the migration process exited (${signal ?? `code ${code}`}) before it finished`)));
    child.send({ url, migrationsDir: options.migrationsDir } satisfies MigrateRequest);
  });
}

async function openEmbedded(options: OpenDatabaseOptions): Promise<Database> {
  const dataDir = path.resolve(options.dataDir);
  await mkdir(dataDir, { recursive: true, mode: PRIVATE_DIR_MODE });
  await tighten(dataDir, options.log);
  const lock: DataDirLock = acquireDataDirLock(dataDir);
  let pglite: PGlite | undefined;
  let prisma: Db | undefined;
  try {
    const { PGlite, PrismaPGlite } = await loadPGlite();
    pglite = new PGlite(dataDir);
    await pglite.waitReady;
    await applyMigrations({ kind: 'pglite', pglite }, { log: options.log, migrationsDir: options.migrationsDir });
    prisma = newClient(new PrismaPGlite(pglite));
    await prisma.$connect();
    await tighten(dataDir, options.log);
  } catch (error) {
    await prisma?.$disconnect().catch(() => {});
    await pglite?.close().catch(() => {});
    lock.release();
    throw error;
  }
  options.log?.(`database: embedded PostgreSQL (PGlite) in ${dataDir}`);

  const db = pglite;
  const client = prisma;
  let closed = false;
  return {
    prisma: client,
    kind: 'pglite',
    sql: directSqlOverPGlite(db),
    ping: pingWith(client),
    async close() {
      if (closed) return;
      closed = true;
      try {
        await client.$disconnect();
        // Closing flushes the data directory; the lock must outlive that.
        await db.close();
        await tighten(dataDir, options.log);
      } finally {
        lock.release();
      }
    },
  };
}

/** Files 0600 and directories 0700 (see makePrivate); what cannot be changed is said, not fatal. */
async function tighten(dataDir: string, log: DatabaseLog | undefined): Promise<void> {
  const { failed } = await makePrivate(dataDir);
  if (failed.length > 0) {
    log?.(`warning: could not make ${failed.length} entries of ${dataDir} private to this user (mode 0600/0700), e.g. ${failed[0]}`);
  }
}
