import { readFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import path from 'node:path';
import type { PGlite } from '@electric-sql/pglite';
import { PrismaPg } from '@prisma/adapter-pg';
import {
  bindMigrationAwareSqlAdapterFactory,
  DriverAdapterError,
  type SqlDriverAdapter,
  type SqlMigrationAwareDriverAdapterFactory,
} from '@prisma/driver-adapter-utils';
import * as bg from '@prisma/schema-engine-wasm/schema_engine_bg';
import type { MigrationList, SchemaEngine, SchemaFilter } from '@prisma/schema-engine-wasm/schema_engine_bg';
import pg from 'pg';
import { loadPGlite } from './pglite-loader.js';
import { acquireDataDirLock } from './data-dir-lock.js';
import { DatabaseSetupError } from './database-setup.error.js';
import { normaliseMigrationName, readMigrationList, writeMigration } from './migrations-dir.js';
import { checkPostgresReachable, createPostgresPool, parsePostgresUrl } from './postgres-driver.js';
import { resolvePrismaPaths } from './project-paths.js';

export type MigrationTarget =
  | { kind: 'postgres'; url: string }
  | { kind: 'pglite'; dataDir: string }
  /** The embedded database the app already owns (and has locked); it is left open. */
  | { kind: 'pglite'; pglite: PGlite };

/** Progress lines for the boot log or a CLI. */
export type DatabaseLog = (message: string) => void;

export interface ApplyMigrationsOptions {
  migrationsDir?: string;
  log?: DatabaseLog;
  /** The engine's own tracing, one JSON line per event; only worth reading when debugging it. */
  engineTrace?: DatabaseLog;
  /** How long a second process waits for the one already migrating the same PostgreSQL database. */
  lockTimeoutMs?: number;
}

export interface ApplyMigrationsResult {
  applied: string[];
}

export interface SchemaSourceOptions {
  /** Defaults to prisma/schema.prisma. */
  datamodel?: string;
  migrationsDir?: string;
  log?: DatabaseLog;
  engineTrace?: DatabaseLog;
}

export interface CreatedMigration {
  name: string;
  file: string;
}

const NO_FILTERS: SchemaFilter = { externalTables: [], externalEnums: [] };
// applyMigrations only needs the provider; keeping the real schema out of it means a running
// instance depends on prisma/migrations alone.
const PROVIDER_ONLY_DATAMODEL = 'datasource db {\n  provider = "postgresql"\n}\n';
// Our own lock key, distinct from the engine's (72707369), held on a connection of our own for the
// whole migration so that two instances booting together apply each migration once.
const MIGRATION_LOCK_KEY = 0x6d787761; // "mxwa"

let wasmReady: Promise<void> | undefined;

// lib "ES2023" without "DOM" has no WebAssembly typings, and @types/node 20 does not declare the global.
declare const WebAssembly: {
  instantiate(bytes: Uint8Array, imports: Record<string, Record<string, unknown>>): Promise<{ instance: { exports: Record<string, unknown> } }>;
};

/**
 * The package's main entry imports the .wasm as an ES module, which Node 20 cannot load, so the
 * wasm-bindgen glue is wired by hand. Its setTimeout import is replaced: the engine never clears
 * the timers it races against queries, and a referenced 10 s timer holds the process open after
 * the work is done. `withKeepAlive` keeps the process up while an engine call is in flight.
 */
function loadWasm(): Promise<void> {
  wasmReady ??= (async () => {
    const require = createRequire(import.meta.url);
    // The package exports only the glue; the .wasm sits next to it.
    const gluePath = require.resolve('@prisma/schema-engine-wasm/schema_engine_bg');
    const wasmPath = path.join(path.dirname(gluePath), 'schema_engine_bg.wasm');
    const imports: Record<string, unknown> = { ...bg };
    for (const key of Object.keys(imports)) {
      if (key.startsWith('__wbg_setTimeout_')) {
        imports[key] = (callback: () => void, ms: number) => setTimeout(callback, ms >>> 0).unref();
      }
    }
    const { instance } = await WebAssembly.instantiate(await readFile(wasmPath), { './schema_engine_bg.js': imports });
    bg.__wbg_set_wasm(instance.exports);
    (instance.exports.__wbindgen_start as () => void)();
  })().catch((error: unknown) => {
    wasmReady = undefined;
    throw error;
  });
  return wasmReady;
}

async function withKeepAlive<T>(work: () => Promise<T>): Promise<T> {
  const keepAlive = setInterval(() => {}, 1 << 30);
  try {
    return await work();
  } finally {
    clearInterval(keepAlive);
  }
}

function postgresErrorPayload(error: unknown) {
  const e = error as { code?: string; severity?: string; message?: string; detail?: string; column?: string; hint?: string };
  return {
    kind: 'postgres' as const,
    code: e.code ?? 'XX000',
    severity: e.severity ?? 'ERROR',
    message: e.message ?? String(error),
    detail: e.detail,
    column: e.column,
    hint: e.hint,
  };
}

/**
 * Delegates to an adapter but runs scripts as one simple-protocol round trip: adapter-pg splits a
 * script on every ";" (breaking string literals and function bodies), and pglite-prisma-adapter
 * does not await `exec`, so a failing migration becomes an unhandled rejection and the engine
 * records it as applied.
 */
function withScriptRunner(adapter: SqlDriverAdapter, runScript: (script: string) => Promise<void>): SqlDriverAdapter {
  return {
    provider: adapter.provider,
    adapterName: adapter.adapterName,
    queryRaw: (query) => adapter.queryRaw(query),
    executeRaw: (query) => adapter.executeRaw(query),
    startTransaction: (isolationLevel) => adapter.startTransaction(isolationLevel),
    getConnectionInfo: () => adapter.getConnectionInfo?.() ?? { supportsRelationJoins: true },
    dispose: () => adapter.dispose(),
    executeScript: async (script) => {
      try {
        await runScript(script);
      } catch (error) {
        throw new DriverAdapterError(postgresErrorPayload(error));
      }
    },
  };
}

async function pgliteAdapter(pglite: PGlite): Promise<SqlDriverAdapter> {
  const { PrismaPGlite } = await loadPGlite();
  const adapter = await new PrismaPGlite(pglite).connect();
  return withScriptRunner(adapter, async (script) => {
    await pglite.exec(script);
  });
}

/** A connection factory whose every connection is tracked, so that `close()` really closes them. */
class TrackedFactory implements SqlMigrationAwareDriverAdapterFactory {
  readonly provider = 'postgres' as const;
  readonly adapterName: string;
  private readonly cleanups: Array<() => Promise<void>> = [];

  constructor(
    adapterName: string,
    private readonly openMain: () => Promise<{ adapter: SqlDriverAdapter; cleanup: () => Promise<void> }>,
  ) {
    this.adapterName = adapterName;
  }

  async connect(): Promise<SqlDriverAdapter> {
    const { adapter, cleanup } = await this.openMain();
    this.cleanups.push(cleanup);
    return adapter;
  }

  // adapter-pg's shadow database connects to the main database or drops it while still connected;
  // an in-memory PGlite is the same PostgreSQL dialect and needs no CREATE DATABASE privilege.
  async connectToShadowDb(): Promise<SqlDriverAdapter> {
    const { PGlite } = await loadPGlite();
    const shadow = new PGlite();
    this.cleanups.push(async () => {
      if (!shadow.closed) await shadow.close();
    });
    return pgliteAdapter(shadow);
  }

  async close(): Promise<void> {
    const cleanups = this.cleanups.splice(0);
    const results = await Promise.allSettled(cleanups.reverse().map((cleanup) => cleanup()));
    const failed = results.find((r): r is PromiseRejectedResult => r.status === 'rejected');
    if (failed) throw failed.reason;
  }
}

function postgresFactory(pool: pg.Pool): TrackedFactory {
  const prismaPg = new PrismaPg(pool);
  return new TrackedFactory('mxwatch-pg', async () => {
    const adapter = await prismaPg.connect();
    // The pool is ours and ended by the caller; the adapter's dispose only detaches a listener.
    return {
      adapter: withScriptRunner(adapter, async (script) => {
        await pool.query(script);
      }),
      cleanup: () => adapter.dispose(),
    };
  });
}

function pgliteFactory(pglite: PGlite): TrackedFactory {
  return new TrackedFactory('mxwatch-pglite', async () => ({ adapter: await pgliteAdapter(pglite), cleanup: async () => {} }));
}


/** Runs `work` with an engine bound to `factory`, then frees the engine and closes every connection it opened. */
async function withEngine<T>(
  factory: TrackedFactory,
  datamodel: { path: string; content: string },
  engineTrace: DatabaseLog | undefined,
  work: (engine: SchemaEngine) => Promise<T>,
): Promise<T> {
  return withKeepAlive(async () => {
    await loadWasm();
    let engine: SchemaEngine | undefined;
    try {
      engine = await bg.SchemaEngine.new(
        { datamodels: [[datamodel.path, datamodel.content]] },
        (line: string) => engineTrace?.(line),
        bindMigrationAwareSqlAdapterFactory(factory),
      );
      return await work(engine);
    } catch (error) {
      throw normaliseEngineError(error);
    } finally {
      engine?.free();
      await factory.close();
    }
  });
}

/** The engine rejects with plain objects or strings carrying the user-facing message. */
function normaliseEngineError(error: unknown): Error {
  if (error instanceof Error) return error;
  if (typeof error === 'string') return new Error(error);
  const message = (error as { message?: unknown } | null)?.message;
  if (typeof message === 'string') return Object.assign(new Error(message), { cause: error });
  return new Error(JSON.stringify(error));
}

async function takeMigrationLock(url: string, timeoutMs: number, log: DatabaseLog | undefined): Promise<pg.Client> {
  const client = new pg.Client({ connectionString: url, application_name: 'mxwatch-migrate', connectionTimeoutMillis: 10_000 });
  client.on('error', () => {});
  await client.connect();
  try {
    const { rows } = await client.query<{ locked: boolean }>('SELECT pg_try_advisory_lock($1) AS locked', [MIGRATION_LOCK_KEY]);
    if (!rows[0]?.locked) {
      log?.('another process is migrating this database; waiting for it');
      await client.query(`SET statement_timeout = ${Math.max(1, Math.floor(timeoutMs))}`);
      await client.query('SELECT pg_advisory_lock($1)', [MIGRATION_LOCK_KEY]);
      await client.query('SET statement_timeout = 0');
    }
    return client;
  } catch (error) {
    await client.end().catch(() => {});
    if ((error as { code?: string }).code === '57014') {
      throw new DatabaseSetupError('migration_failed', `timed out after ${timeoutMs} ms waiting for another process to finish migrating`, {
        cause: error,
      });
    }
    throw error;
  }
}

async function runApply(factory: TrackedFactory, migrations: MigrationList, engineTrace: DatabaseLog | undefined): Promise<ApplyMigrationsResult> {
  const output = await withEngine(factory, { path: 'schema.prisma', content: PROVIDER_ONLY_DATAMODEL }, engineTrace, (engine) =>
    engine.applyMigrations({ migrationsList: migrations, filters: NO_FILTERS }),
  );
  return { applied: output.appliedMigrationNames };
}

/**
 * Applies prisma/migrations/* that the database has not seen yet, recording them in
 * `_prisma_migrations` exactly as `prisma migrate deploy` does. Safe to call on every boot and
 * from several processes at once against one PostgreSQL database.
 */
export async function applyMigrations(target: MigrationTarget, options: ApplyMigrationsOptions = {}): Promise<ApplyMigrationsResult> {
  const migrationsDir = options.migrationsDir ?? resolvePrismaPaths().migrationsDir;
  const migrations = await readMigrationList(migrationsDir);
  if (migrations.migrationDirectories.length === 0) {
    throw new DatabaseSetupError('migrations_missing', `no migrations found in ${migrationsDir}; the image or checkout is incomplete`);
  }
  const log = options.log;
  let result: ApplyMigrationsResult;
  const started = Date.now();

  try {
    if (target.kind === 'postgres') {
      const location = parsePostgresUrl(target.url);
      await checkPostgresReachable(target.url, location);
      const lock = await takeMigrationLock(target.url, options.lockTimeoutMs ?? 120_000, log);
      const pool = createPostgresPool(target.url, { max: 2, applicationName: 'mxwatch-migrate' });
      pool.on('error', () => {});
      try {
        result = await runApply(postgresFactory(pool), migrations, options.engineTrace);
      } finally {
        await pool.end().catch(() => {});
        await lock.end().catch(() => {});
      }
    } else if ('pglite' in target) {
      result = await runApply(pgliteFactory(target.pglite), migrations, options.engineTrace);
    } else {
      const lock = acquireDataDirLock(target.dataDir);
      let pglite: PGlite | undefined;
      try {
        const { PGlite } = await loadPGlite();
        pglite = new PGlite(target.dataDir);
        result = await runApply(pgliteFactory(pglite), migrations, options.engineTrace);
      } finally {
        await pglite?.close().catch(() => {});
        lock.release();
      }
    }
  } catch (error) {
    if (error instanceof DatabaseSetupError) throw error;
    throw new DatabaseSetupError('migration_failed', `applying migrations from ${migrationsDir} failed: ${(error as Error).message}`, {
      cause: error,
    });
  }

  const elapsed = Date.now() - started;
  if (result.applied.length > 0) log?.(`applied ${result.applied.length} migration(s) in ${elapsed} ms: ${result.applied.join(', ')}`);
  else log?.(`database schema is up to date (${migrations.migrationDirectories.length} migrations, checked in ${elapsed} ms)`);
  return result;
}

async function loadDatamodel(options: SchemaSourceOptions): Promise<{ path: string; content: string }> {
  const schemaPath = resolvePrismaPaths().schemaPath;
  return { path: schemaPath, content: options.datamodel ?? (await readFile(schemaPath, 'utf8')) };
}

/**
 * The engine's "main" connection when only the migrations and the schema matter (diff, create):
 * an in-memory PGlite, so these commands need no server. The engine connects to it but `diff`
 * never queries it, so it is only started (about 2 s) on first use.
 */
function scratchFactory(): TrackedFactory {
  return new TrackedFactory('mxwatch-scratch', async () => {
    let scratch: PGlite | undefined;
    let opened: Promise<SqlDriverAdapter> | undefined;
    const open = () =>
      (opened ??= loadPGlite().then(({ PGlite }) => {
        scratch = new PGlite();
        return pgliteAdapter(scratch);
      }));
    const adapter: SqlDriverAdapter = {
      provider: 'postgres',
      adapterName: 'mxwatch-scratch',
      queryRaw: async (query) => (await open()).queryRaw(query),
      executeRaw: async (query) => (await open()).executeRaw(query),
      executeScript: async (script) => (await open()).executeScript(script),
      startTransaction: async (isolationLevel) => (await open()).startTransaction(isolationLevel),
      getConnectionInfo: () => ({ supportsRelationJoins: true }),
      dispose: async () => {},
    };
    return { adapter, cleanup: async () => void (await scratch?.close()) };
  });
}

async function diffMigrationsToSchema(options: SchemaSourceOptions): Promise<{ sql: string; migrationCount: number }> {
  const migrationsDir = options.migrationsDir ?? resolvePrismaPaths().migrationsDir;
  const [datamodel, migrations] = await Promise.all([loadDatamodel(options), readMigrationList(migrationsDir)]);
  const result = await withEngine(scratchFactory(), datamodel, options.engineTrace, (engine) =>
    engine.diff({
      from: { tag: 'migrations', ...migrations },
      to: { tag: 'schemaDatamodel', files: [datamodel] },
      script: true,
      exitCode: true,
      filters: NO_FILTERS,
    }),
  );
  // exitCode 2 is the engine's "non-empty diff"; an empty one still prints a comment line.
  return { sql: result.exitCode === 2 ? (result.stdout ?? '').trim() : '', migrationCount: migrations.migrationDirectories.length };
}

/**
 * The SQL that would bring a database built from prisma/migrations to the schema in
 * schema.prisma (or `options.datamodel`). Empty when they agree.
 */
export async function diffSchemaAgainstMigrations(options: SchemaSourceOptions = {}): Promise<string> {
  return (await diffMigrationsToSchema(options)).sql;
}

function migrationTimestamp(now: Date): string {
  return now.toISOString().replace(/[-:T]/g, '').slice(0, 14);
}

/**
 * Writes prisma/migrations/<timestamp>_<name>/migration.sql with the SQL that takes the existing
 * migrations to schema.prisma. Returns null (and writes nothing) when there is nothing to migrate.
 *
 * Built on `diff` rather than the engine's `createMigration`, which in the WASM build refuses any
 * shadow database ("PostgreSQL shadow DB must be provided through an external factory"); both
 * render the same SQL.
 */
export async function createMigration(name: string, options: SchemaSourceOptions = {}): Promise<CreatedMigration | null> {
  const migrationName = normaliseMigrationName(name);
  const migrationsDir = options.migrationsDir ?? resolvePrismaPaths().migrationsDir;
  const { sql } = await diffMigrationsToSchema({ ...options, migrationsDir });
  if (sql === '') {
    options.log?.('no changes: prisma/schema.prisma already matches prisma/migrations');
    return null;
  }
  const generated = `${migrationTimestamp(new Date())}_${migrationName}`;
  const file = await writeMigration(migrationsDir, generated, `${sql}\n`);
  options.log?.(`wrote ${file}`);
  return { name: generated, file };
}
