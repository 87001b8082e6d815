import { Injectable } from '@nestjs/common';
import { DatabaseService } from '../database/database.service.js';
import { Prisma, type Domain, type PrismaClient } from '../generated/prisma/client.js';
import { sqlTimestamp } from '../database/sql-timestamp.js';

/** A domain the scheduler has just claimed: its row as the claim left it, and `dueAt`, the slot it was due for (its old nextCheckAt). */
export type ClaimedDomain = Domain & { dueAt: Date };

export interface ClaimOptions {
  now: Date;
  limit: number;
  defaultIntervalSeconds: number;
  /** Domains this process is checking already. */
  exclude?: readonly string[];
}

/** The scheduler's side of the domains table: claiming what is due. */
@Injectable()
export class ScheduleRepository {
  constructor(private readonly db: DatabaseService) {}

  /**
   * Claims up to `limit` enabled due domains in one statement: their nextCheckAt moves one
   * interval past `now`, and they are returned with the slot they were due for.
   *
   * Rows are locked with FOR UPDATE SKIP LOCKED inside the same statement that moves them, so
   * two schedulers on one database never claim the same domain: a row another claim holds is
   * skipped, and a row another claim has just moved is re-checked against `nextCheckAt <= now`
   * under READ COMMITTED and dropped. (A read followed by a separate update let two replicas
   * both read the row as due.)
   */
  claimDue(opts: ClaimOptions): Promise<ClaimedDomain[]> {
    return this.claimWith(this.db.prisma, opts);
  }

  /**
   * Claims like `claimDue` and hands the claim to `hand` (the queue) before committing: when
   * `hand` fails (Redis down) or the process dies, the claim rolls back and the domains stay
   * due, so an outage loses no check. `hand` must tolerate a repeat of the same claim (job ids
   * per due slot), since a commit can fail after it ran.
   */
  claimDueAndHand(opts: ClaimOptions, hand: (claimed: ClaimedDomain[]) => Promise<void>): Promise<ClaimedDomain[]> {
    if (opts.limit <= 0) return Promise.resolve([]);
    return this.db.prisma.$transaction(
      async (tx) => {
        const claimed = await this.claimWith(tx, opts, true);
        if (claimed.length > 0) await hand(claimed);
        return claimed;
      },
      { timeout: 60_000, maxWait: 10_000 },
    );
  }

  /**
   * The queue's recovery pass: enabled domains whose queued check (`queuedSlot`, claimed by
   * `claimDueAndHand`) stored no run yet, enqueued or last found in Redis at or before
   * `queuedBefore`, and not due again (a domain due again is claimed anew, under a new slot).
   * They are locked (FOR UPDATE SKIP LOCKED, so no claim moves them meanwhile) and handed to
   * `look`, which enqueues again the jobs Redis no longer holds; every row handed over is then
   * marked as looked at (`queuedAt` = `now`), so the next pass takes the ones after it. Returns
   * what `look` returned.
   */
  recoverQueued<T>(opts: { now: Date; queuedBefore: Date; limit: number }, look: (queued: ClaimedDomain[]) => Promise<T>): Promise<T | null> {
    return this.db.prisma.$transaction(
      async (tx) => {
        const now = sqlTimestamp(opts.now);
        const rows = await tx.$queryRaw<ClaimedDomain[]>`
          SELECT d.*, d."queuedSlot" AS "dueAt" FROM "Domain" d
           WHERE d."enabled" AND d."queuedSlot" IS NOT NULL
             AND d."queuedAt" <= ${sqlTimestamp(opts.queuedBefore)}::timestamp(3)
             AND d."nextCheckAt" > ${now}::timestamp(3)
           ORDER BY d."queuedAt", d."id"
           LIMIT ${opts.limit}
             FOR UPDATE SKIP LOCKED`;
        if (rows.length === 0) return null;
        const out = await look(rows);
        await tx.$executeRaw`UPDATE "Domain" SET "queuedAt" = ${now}::timestamp(3) WHERE "id" = ANY(${rows.map((r) => r.id)}::text[]::uuid[])`;
        return out;
      },
      { timeout: 60_000, maxWait: 10_000 },
    );
  }

  private async claimWith(client: Pick<PrismaClient, '$queryRaw'>, opts: ClaimOptions, queued = false): Promise<ClaimedDomain[]> {
    if (opts.limit <= 0) return [];
    const now = sqlTimestamp(opts.now);
    const exclude = [...(opts.exclude ?? [])];
    // A queued claim also records its slot (the job's id), which the recovery pass looks for in Redis.
    const rows = await client.$queryRaw<ClaimedDomain[]>`
      WITH "due" AS (
        SELECT "id", "nextCheckAt" AS "dueAt" FROM "Domain"
         WHERE "enabled" AND "nextCheckAt" <= ${now}::timestamp(3)
           AND NOT ("id" = ANY(${exclude}::uuid[]))
         ORDER BY "nextCheckAt"
         LIMIT ${opts.limit}
           FOR UPDATE SKIP LOCKED
      )
      UPDATE "Domain" AS d
         SET "nextCheckAt" = ${now}::timestamp(3) + make_interval(secs => COALESCE(d."intervalSeconds", ${opts.defaultIntervalSeconds}::int)),
             "queuedSlot" = CASE WHEN ${queued}::boolean THEN "due"."dueAt" ELSE d."queuedSlot" END,
             "queuedAt" = CASE WHEN ${queued}::boolean THEN ${now}::timestamp(3) ELSE d."queuedAt" END
        FROM "due"
       WHERE d."id" = "due"."id"
      RETURNING d.*, "due"."dueAt"`;
    return rows.sort((a, b) => a.dueAt.getTime() - b.dueAt.getTime() || (a.name < b.name ? -1 : 1));
  }

  /**
   * What a queued check needs before it runs, in one statement: the run already stored under the
   * job's idempotency key (the job ran before: a worker died or stalled after storing), and else
   * the domain's row if it is still enabled.
   */
  async jobStart(id: string, idempotencyKey: string): Promise<{ storedRunId: string | null; domain: Domain | null }> {
    // Straight to the driver (database/direct-sql.ts): a statement per queued check.
    const rows = await this.db.sql<Domain & { storedRunId: string | null }>(Prisma.sql`
      SELECT r."id" AS "storedRunId", d.*
        FROM (SELECT 1) AS one
        LEFT JOIN "Domain" d ON d."id" = ${id}::uuid AND d."enabled"
        LEFT JOIN "CheckRun" r ON r."idempotencyKey" = ${idempotencyKey}`);
    const { storedRunId, ...domain } = rows[0]!;
    return { storedRunId, domain: domain.id === null ? null : domain };
  }

  /**
   * Claimed domains read again right before their checks (they may have been deleted or disabled
   * while they waited), in one statement: those deleted or disabled are absent.
   */
  async findEnabledMany(ids: readonly string[]): Promise<Domain[]> {
    if (ids.length === 0) return [];
    return this.db.sql<Domain>(Prisma.sql`SELECT * FROM "Domain" WHERE "id" = ANY(${[...ids]}::text[]::uuid[]) AND "enabled"`);
  }
}
