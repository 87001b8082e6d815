import { cp, mkdir, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { PGlite } from '@electric-sql/pglite';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestDatabase } from '../../../../test/support/postgres.js';
import { resolvePrismaPaths } from './project-paths.js';
import { applyMigrations, createMigration, diffSchemaAgainstMigrations } from './schema-engine.js';

const { schemaPath, migrationsDir } = resolvePrismaPaths();

// Timers and sockets that keep the event loop alive (unref'd ones are not listed), by kind.
function liveHandles(): Record<string, number> {
  const counts: Record<string, number> = { Timeout: 0, TCPSocketWrap: 0 };
  for (const resource of process.getActiveResourcesInfo()) if (resource in counts) counts[resource]! += 1;
  return counts;
}

async function migrationNames(url: string): Promise<string[]> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    const { rows } = await client.query<{ migration_name: string }>(
      'SELECT migration_name FROM _prisma_migrations WHERE finished_at IS NOT NULL AND rolled_back_at IS NULL ORDER BY migration_name',
    );
    return rows.map((r) => r.migration_name);
  } finally {
    await client.end();
  }
}

/** A copy of prisma/migrations plus one more migration. */
async function migrationsWith(name: string, sql: string): Promise<string> {
  const dir = await mkdtemp(path.join(tmpdir(), 'mxwatch-migrations-'));
  await cp(migrationsDir, dir, { recursive: true });
  await mkdir(path.join(dir, name));
  await writeFile(path.join(dir, name, 'migration.sql'), sql);
  return dir;
}

describe('applyMigrations', () => {
  let db: Awaited<ReturnType<typeof createTestDatabase>>;
  let expected: string[];

  beforeAll(async () => {
    db = await createTestDatabase('mxwatch_dev_engine', { empty: true });
    expected = (await readdir(migrationsDir, { withFileTypes: true }))
      .filter((d) => d.isDirectory())
      .map((d) => d.name)
      .sort();
  });
  afterAll(async () => {
    await db?.drop();
  });

  it('should apply every migration to a fresh PostgreSQL database, then nothing the second time', async () => {
    const before = liveHandles();

    const first = await applyMigrations({ kind: 'postgres', url: db.url });
    const second = await applyMigrations({ kind: 'postgres', url: db.url });

    expect(first.applied).toEqual(expected);
    expect(second.applied).toEqual([]);
    expect(await migrationNames(db.url)).toEqual(expected);
    // The engine's connections are closed and its timers unref'd: nothing holds the process open.
    const after = liveHandles();
    expect(after.Timeout).toBeLessThanOrEqual(before.Timeout!);
    expect(after.TCPSocketWrap).toBeLessThanOrEqual(before.TCPSocketWrap!);
  });

  it('should apply each migration once when several processes migrate at the same time', async () => {
    const race = await createTestDatabase('mxwatch_dev_race', { empty: true });
    try {
      const results = await Promise.all([1, 2, 3].map(() => applyMigrations({ kind: 'postgres', url: race.url })));

      expect(results.flatMap((r) => r.applied).sort()).toEqual(expected);
      expect(await migrationNames(race.url)).toEqual(expected);
    } finally {
      await race.drop();
    }
  });

  it('should apply every migration to a fresh PGlite directory, then nothing the second time', async () => {
    const dataDir = await mkdtemp(path.join(tmpdir(), 'mxwatch-pglite-'));
    try {
      const first = await applyMigrations({ kind: 'pglite', dataDir });
      const second = await applyMigrations({ kind: 'pglite', dataDir });

      expect(first.applied).toEqual(expected);
      expect(second.applied).toEqual([]);
      expect(await readdir(dataDir)).not.toContain('.mxwatch.lock');
    } finally {
      await rm(dataDir, { recursive: true, force: true });
    }
  }, 120_000);

  it('should run a migration whose SQL has semicolons inside literals and function bodies as written', async () => {
    const dir = await migrationsWith('20990101000000_semicolons', `
      CREATE FUNCTION mxwatch_semicolons() RETURNS text LANGUAGE plpgsql AS $$ BEGIN RETURN 'a;b'; END $$;
      COMMENT ON TABLE "Domain" IS 'monitored; normalised';
    `);
    const other = await createTestDatabase('mxwatch_dev_semicolons', { empty: true });
    try {
      const { applied } = await applyMigrations({ kind: 'postgres', url: other.url }, { migrationsDir: dir });

      expect(applied.at(-1)).toBe('20990101000000_semicolons');
    } finally {
      await other.drop();
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('should fail on a broken migration in an app-owned PGlite instead of recording it as applied', async () => {
    const dir = await migrationsWith('20990101000000_broken', 'ALTER TABLE "NoSuchTable" ADD COLUMN "x" TEXT;');
    const pglite = new PGlite();
    try {
      await expect(applyMigrations({ kind: 'pglite', pglite }, { migrationsDir: dir })).rejects.toMatchObject({
        reason: 'migration_failed',
        message: expect.stringContaining('NoSuchTable'),
      });
      const { rows } = await pglite.query<{ migration_name: string }>('SELECT migration_name FROM _prisma_migrations WHERE finished_at IS NOT NULL');
      expect(rows.map((r) => r.migration_name)).toEqual(expected);
      expect(pglite.closed).toBe(false);
    } finally {
      await pglite.close();
      await rm(dir, { recursive: true, force: true });
    }
  }, 120_000);

  it('should name host and port when PostgreSQL is unreachable', async () => {
    await expect(applyMigrations({ kind: 'postgres', url: 'postgresql://postgres@127.0.0.1:1/x' })).rejects.toMatchObject({
      reason: 'unreachable',
      message: expect.stringContaining('127.0.0.1:1'),
    });
  });

  it('should refuse to start without migrations', async () => {
    const empty = await mkdtemp(path.join(tmpdir(), 'mxwatch-nomig-'));
    try {
      await expect(applyMigrations({ kind: 'postgres', url: db.url }, { migrationsDir: empty })).rejects.toMatchObject({
        reason: 'migrations_missing',
      });
    } finally {
      await rm(empty, { recursive: true, force: true });
    }
  });
});

describe('diffSchemaAgainstMigrations', () => {
  it('should find prisma/schema.prisma in sync with prisma/migrations', async () => {
    expect(await diffSchemaAgainstMigrations()).toBe('');
  }, 120_000);

  it('should print the missing SQL when the schema changed without a migration', async () => {
    const schema = await readFile(schemaPath, 'utf8');
    const changed = schema.replace('model Domain {', 'model Domain {\n  owner String?');

    const diff = await diffSchemaAgainstMigrations({ datamodel: changed });

    expect(diff).toContain('ALTER TABLE "Domain" ADD COLUMN     "owner" TEXT');
  }, 120_000);
});

describe('createMigration', () => {
  let dir: string;

  beforeAll(async () => {
    dir = await mkdtemp(path.join(tmpdir(), 'mxwatch-migrations-'));
    await cp(migrationsDir, dir, { recursive: true });
  });
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('should write nothing when the schema matches the migrations', async () => {
    const lines: string[] = [];

    const created = await createMigration('nothing', { migrationsDir: dir, log: (l) => lines.push(l) });

    expect(created).toBeNull();
    expect(lines.join('\n')).toContain('no changes');
  }, 120_000);

  it('should write <timestamp>_<name>/migration.sql that brings the migrations in sync with the schema', async () => {
    const schema = (await readFile(schemaPath, 'utf8')).replace('model Domain {', 'model Domain {\n  owner String?');

    const created = await createMigration('Add domain owner', { migrationsDir: dir, datamodel: schema });

    expect(created?.name).toMatch(/^\d{14}_add_domain_owner$/);
    expect(await readFile(created!.file, 'utf8')).toContain('ADD COLUMN     "owner" TEXT');
    expect(await diffSchemaAgainstMigrations({ migrationsDir: dir, datamodel: schema })).toBe('');
  }, 120_000);
});
