import { Injectable } from '@nestjs/common';
import { DatabaseService } from '../database/database.service.js';

/** A domain the scheduler has just claimed: `dueAt` is the slot it was due for (its old nextCheckAt). */
export interface ClaimedDomain {
  id: string;
  name: string;
  intervalSeconds: number | null;
  dueAt: Date;
}

/** A DateTime column's text form as Prisma writes it: UTC, no zone. */
function sqlTimestamp(d: Date): string {
  return d.toISOString().replace('T', ' ').replace('Z', '');
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
  async claimDue(opts: { now: Date; limit: number; defaultIntervalSeconds: number; exclude?: readonly string[] }): Promise<ClaimedDomain[]> {
    if (opts.limit <= 0) return [];
    const now = sqlTimestamp(opts.now);
    const exclude = [...(opts.exclude ?? [])];
    const rows = await this.db.prisma.$queryRaw<Array<{ id: string; name: string; intervalSeconds: number | null; dueAt: Date }>>`
      WITH "due" AS (
        SELECT "id", "nextCheckAt" AS "dueAt" FROM "Domain"
         WHERE "enabled" AND "nextCheckAt" <= ${now}::timestamp(3)
           AND NOT ("id" = ANY(${exclude}::uuid[]))
         ORDER BY "nextCheckAt"
         LIMIT ${opts.limit}
           FOR UPDATE SKIP LOCKED
      )
      UPDATE "Domain" AS d
         SET "nextCheckAt" = ${now}::timestamp(3) + make_interval(secs => COALESCE(d."intervalSeconds", ${opts.defaultIntervalSeconds}::int))
        FROM "due"
       WHERE d."id" = "due"."id"
      RETURNING d."id", d."name", d."intervalSeconds", "due"."dueAt"`;
    return rows.sort((a, b) => a.dueAt.getTime() - b.dueAt.getTime() || (a.name < b.name ? -1 : 1));
  }

  /** Re-reads a claimed domain right before its check: it may have been deleted or disabled while it waited. */
  findEnabled(id: string) {
    return this.db.prisma.domain.findFirst({ where: { id, enabled: true } });
  }
}
