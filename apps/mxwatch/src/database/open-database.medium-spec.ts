import { spawn, type ChildProcess } from 'node:child_process';
import { chmod, mkdtemp, readFile, readdir, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { createTestDatabase } from '../../../../test/support/postgres.js';
import { Prisma } from '../generated/prisma/client.js';
import { LOCK_FILE_NAME } from './data-dir-lock.js';
import { openDatabase, type Database } from './open-database.js';

async function roundTrip(db: Database): Promise<void> {
  const { prisma } = db;
  await db.ping();

  const domain = await prisma.domain.create({ data: { name: 'example.org', labels: { team: 'mail' }, submissionHosts: ['smtp.example.org'] } });
  const duplicate = await prisma.domain.create({ data: { name: 'example.org' } }).catch((error: unknown) => error);
  const startedAt = new Date('2026-01-02T03:04:05.678Z');
  const run = await prisma.checkRun.create({
    data: { domainId: domain.id, trigger: 'manual', status: 'pass', startedAt, finishedAt: startedAt, durationMs: 12 },
  });
  const result = await prisma.probeResult.create({
    data: {
      runId: run.id,
      domainId: domain.id,
      probe: 'mx',
      target: 'example.org',
      status: 'pass',
      startedAt,
      durationMs: 12,
      details: { hosts: [{ exchange: 'mx1.example.org', preference: 10 }], nested: { ok: true } },
    },
  });
  const read = await prisma.probeResult.findUniqueOrThrow({ where: { id: result.id }, include: { domain: true } });

  expect(duplicate).toBeInstanceOf(Prisma.PrismaClientKnownRequestError);
  expect((duplicate as Prisma.PrismaClientKnownRequestError).code).toBe('P2002');
  expect(typeof result.id).toBe('bigint');
  expect(read.details).toEqual({ hosts: [{ exchange: 'mx1.example.org', preference: 10 }], nested: { ok: true } });
  expect(read.startedAt.toISOString()).toBe(startedAt.toISOString());
  expect(read.domain.labels).toEqual({ team: 'mail' });
  expect(read.domain.submissionHosts).toEqual(['smtp.example.org']);
}

describe(openDatabase.name, () => {
  describe('on PostgreSQL', () => {
    let pgdb: Awaited<ReturnType<typeof createTestDatabase>>;
    beforeAll(async () => {
      pgdb = await createTestDatabase('mxwatch_dev_open', { empty: true });
    });
    afterAll(async () => {
      await pgdb?.drop();
    });

    it('should migrate and serve a CRUD round trip, twice on the same database', async () => {
      const dataDir = path.join(tmpdir(), 'mxwatch-unused');
      const first = await openDatabase({ databaseUrl: pgdb.url, dataDir });
      try {
        expect(first.kind).toBe('postgres');
        await roundTrip(first);
      } finally {
        await first.close();
      }

      const again = await openDatabase({ databaseUrl: pgdb.url, dataDir });
      try {
        expect(await again.prisma.domain.count()).toBe(1);
      } finally {
        await again.close();
      }
    });

    it('should say that the URL is bad rather than failing to connect', async () => {
      await expect(openDatabase({ databaseUrl: 'mysql://root@localhost/mxwatch', dataDir: tmpdir() })).rejects.toMatchObject({
        reason: 'bad_url',
        message: expect.stringContaining('postgresql://'),
      });
      await expect(openDatabase({ databaseUrl: 'localhost:5432', dataDir: tmpdir() })).rejects.toMatchObject({ reason: 'bad_url' });
    });

    it('should name host and port when PostgreSQL is unreachable', async () => {
      await expect(openDatabase({ databaseUrl: 'postgresql://postgres:secret@127.0.0.1:1/mxwatch', dataDir: tmpdir() })).rejects.toMatchObject({
        reason: 'unreachable',
        message: expect.stringMatching(/127\.0\.0\.1:1\b(?!.*secret)/),
      });
    });
  });

  describe('on the embedded database', () => {
    let dataDir: string;
    // A migrated data directory, made once: creating one costs seconds (PGlite runs initdb).
    let shared: string;
    let child: ChildProcess | undefined;

    beforeAll(async () => {
      dataDir = await mkdtemp(path.join(tmpdir(), 'mxwatch-open-'));
      shared = path.join(dataDir, 'shared');
      await (await openDatabase({ dataDir: shared })).close();
    }, 120_000);
    afterEach(() => {
      child?.kill('SIGKILL');
      child = undefined;
    });
    afterAll(async () => {
      await rm(dataDir, { recursive: true, force: true });
    });

    it('should create the data directory, migrate, serve a CRUD round trip and keep the data', async () => {
      const nested = path.join(dataDir, 'created', 'here');
      const db = await openDatabase({ dataDir: nested });
      try {
        expect(db.kind).toBe('pglite');
        await roundTrip(db);
      } finally {
        await db.close();
      }

      const reopened = await openDatabase({ dataDir: nested });
      try {
        expect(await reopened.prisma.domain.findMany({ select: { name: true } })).toEqual([{ name: 'example.org' }]);
      } finally {
        await reopened.close();
      }
    }, 120_000);

    it('should keep the data directory private (files 0600, directories 0700), also one that existed with open modes', async () => {
      const modes = async (root: string) => {
        const found = new Set<string>();
        for (const entry of await readdir(root, { recursive: true, withFileTypes: true })) {
          const full = path.join(entry.parentPath, entry.name);
          found.add(`${entry.isDirectory() ? 'dir' : 'file'} ${((await stat(full)).mode & 0o777).toString(8)}`);
        }
        return [...found].sort();
      };
      const fresh = path.join(dataDir, 'private-fresh');
      const db = await openDatabase({ dataDir: fresh });
      try {
        expect(await modes(fresh)).toEqual(['dir 700', 'file 600']);
        expect((await stat(fresh)).mode & 0o777).toBe(0o700);
      } finally {
        await db.close();
      }
      expect(await modes(fresh)).toEqual(['dir 700', 'file 600']);

      await chmod(fresh, 0o755);
      await chmod(path.join(fresh, 'PG_VERSION'), 0o666);
      await chmod(path.join(fresh, 'base'), 0o777);
      const reopened = await openDatabase({ dataDir: fresh });
      try {
        expect((await stat(fresh)).mode & 0o777).toBe(0o700);
        expect(await modes(fresh)).toEqual(['dir 700', 'file 600']);
      } finally {
        await reopened.close();
      }
    }, 120_000);

    it('should refuse a second owner of the same data directory in this process', async () => {
      const dir = shared;
      const db = await openDatabase({ dataDir: dir });
      try {
        await expect(openDatabase({ dataDir: dir })).rejects.toMatchObject({ reason: 'data_dir_locked' });
        await db.ping();
      } finally {
        await db.close();
      }
    }, 120_000);

    it('should refuse a data directory that another live process owns, and name it', async () => {
      const dir = shared;
      child = spawn(process.execPath, ['-e', 'setTimeout(() => {}, 60_000)'], { stdio: 'ignore' });
      await writeFile(path.join(dir, LOCK_FILE_NAME), JSON.stringify({ pid: child.pid, startTime: null, hostname: 'elsewhere', acquiredAt: 'now' }));

      await expect(openDatabase({ dataDir: dir })).rejects.toMatchObject({
        reason: 'data_dir_locked',
        message: expect.stringContaining(`pid ${child.pid}`),
      });
    }, 120_000);

    it('should take over a lock left behind by a process that is gone', async () => {
      const dir = shared;
      const dead = spawn(process.execPath, ['-e', '0'], { stdio: 'ignore' });
      await new Promise((resolve) => dead.once('exit', resolve));
      await writeFile(path.join(dir, LOCK_FILE_NAME), JSON.stringify({ pid: dead.pid, startTime: null, hostname: 'here', acquiredAt: 'then' }));

      const db = await openDatabase({ dataDir: dir });
      try {
        expect(JSON.parse(await readFile(path.join(dir, LOCK_FILE_NAME), 'utf8')).pid).toBe(process.pid);
      } finally {
        await db.close();
      }
    }, 120_000);
  });
});
