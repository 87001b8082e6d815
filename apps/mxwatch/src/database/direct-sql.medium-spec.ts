import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { databaseBackends } from '../../../../test/support/database-backends.js';
import { Prisma } from '../generated/prisma/client.js';
import { sqlStateOf } from './direct-sql.js';
import type { Database } from './open-database.js';

/**
 * Medium tier: a statement sent straight to each driver reads and writes what `$queryRaw` would,
 * in a process whose local time zone is not UTC (node-postgres and PGlite both read `timestamp`
 * in local time, and node-postgres sends a Date in local time, unless told otherwise).
 */
describe.each(databaseBackends('mxwatch_direct_sql'))('direct SQL on $name', (backend) => {
  let close: () => Promise<void>;
  let database: Database;
  let domainId: string;
  const zone = process.env.TZ;

  beforeAll(async () => {
    ({ database, close } = await backend.open());
    domainId = (await database.prisma.domain.create({ data: { name: 'direct.example' } })).id;
  });

  afterEach(() => {
    if (zone === undefined) delete process.env.TZ;
    else process.env.TZ = zone;
  });

  afterAll(async () => {
    await close?.();
  });

  it('should store and read values as Prisma does, whatever the local time zone', async () => {
    process.env.TZ = 'America/New_York';
    const at = new Date('2026-07-01T12:34:56.789Z');
    const [row] = await database.sql<{ id: bigint; observedAt: Date; weakening: boolean; n: bigint; tags: string[]; doc: unknown }>(Prisma.sql`
      WITH "c" AS (
        INSERT INTO "PolicyChange" ("domainId", "probe", "kind", "weakening", "text", "observedAt")
        VALUES (${domainId}::uuid, 'mx', 'mx.host_added', ${true}, 'MX a added', ${at})
        RETURNING *
      )
      SELECT "c".*, count(*) OVER () AS "n", ${['a', 'b']}::text[] AS "tags", ${JSON.stringify({ k: [1, 'x'] })}::jsonb AS "doc" FROM "c"`);
    expect(row!.observedAt).toEqual(at);
    expect(typeof row!.id).toBe('bigint');
    expect(row!.n).toBe(1n);
    expect(row!.weakening).toBe(true);
    expect(row!.tags).toEqual(['a', 'b']);
    expect(row!.doc).toEqual({ k: [1, 'x'] });

    // The same row through Prisma, written by the one and read by the other.
    const viaPrisma = await database.prisma.policyChange.findUniqueOrThrow({ where: { id: row!.id } });
    expect(viaPrisma.observedAt).toEqual(at);
    const [raw] = await database.prisma.$queryRaw<Array<{ id: bigint; observedAt: Date }>>`SELECT "id", "observedAt" FROM "PolicyChange" WHERE "id" = ${row!.id}`;
    const [direct] = await database.sql<{ id: bigint; observedAt: Date }>(Prisma.sql`SELECT "id", "observedAt" FROM "PolicyChange" WHERE "id" = ${row!.id}`);
    expect(direct).toEqual(raw);
  });

  it('should report a constraint violation with its SQLSTATE', async () => {
    const gone = '00000000-0000-4000-8000-000000000000';
    const error = await database.sql(Prisma.sql`INSERT INTO "PolicyState" ("domainId", "probe", "state", "observedAt") VALUES (${gone}::uuid, 'mx', '{}'::jsonb, ${new Date()})`).catch((e: unknown) => e);
    expect(sqlStateOf(error)).toBe('23503');
  });
});
