import { Injectable } from '@nestjs/common';
import { Prisma, type CheckRun, type ProbeResult as ProbeResultRow } from '../generated/prisma/client.js';
import { DatabaseService } from '../database/database.service.js';
import type { ProbeResult } from '../probes/probe.types.js';

export type { CheckRun, ProbeResultRow };

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

/** Probe results are JSON-safe already, except Dates inside details; keep them as ISO strings. */
function toJson(value: unknown): Prisma.InputJsonValue {
  return JSON.parse(JSON.stringify(value)) as Prisma.InputJsonValue;
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
  }): Promise<CheckRun & { results: ProbeResultRow[] }> {
    return this.db.prisma.$transaction(async (tx) => {
      const run = await tx.checkRun.create({
        data: {
          domainId: input.domainId,
          trigger: input.trigger,
          status: input.status,
          startedAt: input.startedAt,
          finishedAt: input.finishedAt,
          durationMs: input.finishedAt.getTime() - input.startedAt.getTime(),
        },
      });
      await tx.probeResult.createMany({
        data: input.results.map((r) => ({
          runId: run.id,
          domainId: input.domainId,
          probe: r.probe,
          target: r.target,
          status: r.status,
          reason: r.reason ?? null,
          startedAt: r.startedAt,
          durationMs: Math.round(r.durationMs),
          details: toJson({ ...r.details, observations: r.observations }),
        })),
      });
      await tx.domain.update({
        where: { id: input.domainId },
        data: { lastCheckAt: input.finishedAt, ...(input.nextCheckAt ? { nextCheckAt: input.nextCheckAt } : {}) },
      });
      const results = await tx.probeResult.findMany({ where: { runId: run.id }, orderBy: { id: 'asc' } });
      return { ...run, results };
    });
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
