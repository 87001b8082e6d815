import { AsyncLocalStorage } from 'node:async_hooks';
import { randomUUID } from 'node:crypto';
import { Injectable } from '@nestjs/common';
import { Prisma, type CheckRun, type ProbeResult as ProbeResultRow } from '../generated/prisma/client.js';
import { DatabaseService } from '../database/database.service.js';
import type { ProbeResult } from '../probes/probe.types.js';
import { toStorable } from './storable-text.js';

export type { CheckRun, ProbeResultRow };

/** The domain was deleted while its check ran: there is nothing to store the run against. */
export class DomainGoneError extends Error {}

/**
 * The idempotency key of the queued check running in this async context, for runs stored
 * without an explicit `idempotencyKey` (the check runner does not pass one through yet).
 */
export const queuedRunKey = new AsyncLocalStorage<string>();

/** A run with this idempotency key is already stored: a queued check ran twice (a worker died or stalled after storing). */
export class DuplicateRunError extends Error {}

export interface HistoryQuery {
  domainId: string;
  probe?: string;
  status?: string;
  since?: Date;
  until?: Date;
  limit: number;
  /** (startedAt, id) of the last row of the previous page */
  after?: { startedAt: Date; id: bigint };
}

/** A DateTime column's text form as Prisma writes it: UTC, no zone. */
function sqlTimestamp(d: Date): string {
  return d.toISOString().replace('T', ' ').replace('Z', '');
}

/** A raw statement's foreign-key violation (Prisma reports it as P2010, not P2003). */
function isRawForeignKeyViolation(e: Prisma.PrismaClientKnownRequestError): boolean {
  const cause = (e.meta?.driverAdapterError as { cause?: { kind?: string } } | undefined)?.cause;
  return e.code === 'P2010' && cause?.kind === 'ForeignKeyConstraintViolation';
}

function isRawUniqueViolation(e: Prisma.PrismaClientKnownRequestError): boolean {
  const cause = (e.meta?.driverAdapterError as { cause?: { kind?: string } } | undefined)?.cause;
  return e.code === 'P2010' && cause?.kind === 'UniqueConstraintViolation';
}

@Injectable()
export class ChecksRepository {
  constructor(private readonly db: DatabaseService) {}

  /** Stores the run and all its results in one transaction, and moves the domain's schedule. */
  async storeRun(input: {
    domainId: string;
    trigger: string;
    status: string;
    startedAt: Date;
    finishedAt: Date;
    results: ProbeResult[];
    nextCheckAt: Date | null;
    /** A queued check's job id: storing a second run with the same key throws DuplicateRunError. */
    idempotencyKey?: string;
  }): Promise<CheckRun & { results: ProbeResultRow[] }> {
    const key = input.idempotencyKey ?? queuedRunKey.getStore();
    if (key !== undefined && input.idempotencyKey === undefined) input = { ...input, idempotencyKey: key };
    try {
      return await this.storeRunTx(input);
    } catch (e) {
      if (e instanceof Prisma.PrismaClientKnownRequestError && (e.code === 'P2003' || e.code === 'P2025' || isRawForeignKeyViolation(e))) throw new DomainGoneError(input.domainId);
      if (input.idempotencyKey !== undefined && e instanceof Prisma.PrismaClientKnownRequestError && (e.code === 'P2002' || isRawUniqueViolation(e))) throw new DuplicateRunError(input.idempotencyKey);
      throw e;
    }
  }

  /**
   * One statement, atomic by itself: the run, its results (ids in result order) and the domain's
   * schedule. Through Prisma's query builder the same writes (an interactive transaction with a
   * createMany) cost ~10 ms of CPU per run, most of a check's CPU at fleet scale; as one
   * statement with the results as one JSON parameter they cost ~1.5 ms (bench/README.md).
   */
  private async storeRunTx(input: Parameters<ChecksRepository['storeRun']>[0]): Promise<CheckRun & { results: ProbeResultRow[] }> {
    const run: CheckRun = {
      id: randomUUID(),
      domainId: input.domainId,
      trigger: input.trigger,
      status: input.status,
      startedAt: input.startedAt,
      finishedAt: input.finishedAt,
      durationMs: input.finishedAt.getTime() - input.startedAt.getTime(),
      idempotencyKey: input.idempotencyKey ?? null,
      facts: [],
    };
    // JSON.stringify keeps Dates inside details as ISO strings, as the JSON column always had them.
    // toStorable: a NUL from the network (legal in a DNS label) would make PostgreSQL refuse the whole run.
    const rows = JSON.stringify(
      toStorable(input.results).map((r) => ({
        probe: r.probe,
        target: r.target,
        status: r.status,
        reason: r.reason ?? null,
        startedAt: sqlTimestamp(r.startedAt),
        durationMs: Math.round(r.durationMs),
        details: { ...r.details, observations: r.observations },
      })),
    );
    const results = await this.db.prisma.$queryRaw<ProbeResultRow[]>`
      WITH "run" AS (
        INSERT INTO "CheckRun" ("id", "domainId", "trigger", "status", "startedAt", "finishedAt", "durationMs", "idempotencyKey")
        VALUES (${run.id}::uuid, ${run.domainId}::uuid, ${run.trigger}, ${run.status}, ${run.startedAt}, ${run.finishedAt}, ${run.durationMs}, ${run.idempotencyKey})
      ), "schedule" AS (
        UPDATE "Domain" SET "lastCheckAt" = ${input.finishedAt}, "nextCheckAt" = COALESCE(${input.nextCheckAt}, "nextCheckAt"), "updatedAt" = ${new Date()}
         WHERE "id" = ${run.domainId}::uuid
      )
      INSERT INTO "ProbeResult" ("runId", "domainId", "probe", "target", "status", "reason", "startedAt", "durationMs", "details")
      SELECT ${run.id}::uuid, ${run.domainId}::uuid, r.v->>'probe', r.v->>'target', r.v->>'status', r.v->>'reason',
             (r.v->>'startedAt')::timestamp(3), (r.v->>'durationMs')::int, r.v->'details'
        FROM jsonb_array_elements(${rows}::jsonb) WITH ORDINALITY AS r(v, n)
       ORDER BY r.n
      RETURNING *`;
    results.sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
    return { ...run, results };
  }

  /** The run a queued check stored under its job id, if it did. */
  async runIdByKey(idempotencyKey: string): Promise<string | null> {
    const run = await this.db.prisma.checkRun.findUnique({ where: { idempotencyKey }, select: { id: true } });
    return run?.id ?? null;
  }

  latestRun(domainId: string): Promise<(CheckRun & { results: ProbeResultRow[] }) | null> {
    return this.db.prisma.checkRun.findFirst({
      where: { domainId },
      orderBy: { startedAt: 'desc' },
      include: { results: { orderBy: { id: 'asc' } } },
    });
  }

  /** Newest first, keyset-paginated on (startedAt, id) so pages stay stable while rows are inserted. */
  history(q: HistoryQuery): Promise<ProbeResultRow[]> {
    const where: Prisma.ProbeResultWhereInput = { domainId: q.domainId };
    if (q.probe) where.probe = q.probe;
    if (q.status) where.status = q.status;
    if (q.since || q.until) where.startedAt = { ...(q.since ? { gte: q.since } : {}), ...(q.until ? { lt: q.until } : {}) };
    const and: Prisma.ProbeResultWhereInput[] = [where];
    if (q.after) {
      and.push({ OR: [{ startedAt: { lt: q.after.startedAt } }, { startedAt: q.after.startedAt, id: { lt: q.after.id } }] });
    }
    return this.db.prisma.probeResult.findMany({
      where: { AND: and },
      orderBy: [{ startedAt: 'desc' }, { id: 'desc' }],
      take: q.limit,
    });
  }

  /** Deletes runs older than `before` in batches; returns how many runs went. */
  async pruneBatch(before: Date, batchSize: number): Promise<number> {
    const old = await this.db.prisma.checkRun.findMany({ where: { startedAt: { lt: before } }, select: { id: true }, take: batchSize });
    if (old.length === 0) return 0;
    await this.db.prisma.checkRun.deleteMany({ where: { id: { in: old.map((r) => r.id) } } });
    return old.length;
  }
}
