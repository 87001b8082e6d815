import { randomUUID } from 'node:crypto';
import { Injectable } from '@nestjs/common';
import { Prisma, type Finding } from '../generated/prisma/client.js';
import { DatabaseService } from '../database/database.service.js';
import type { FindingScope } from '../findings/finding-catalog.js';
import type { LifecycleChange } from '../findings/finding-lifecycle.js';
import type { FindingDraft } from '../findings/findings.rules.js';
import { fromStorableText, toStorable, toStorableText } from './storable-text.js';
import { sqlTimestamp } from '../database/sql-timestamp.js';

export type { Finding };

export interface FindingQuery {
  status?: 'open' | 'resolved' | 'pending';
  domainId?: string;
  /** `monitor`: only findings about mxwatch itself (no domain); `domain`: only domains' findings. */
  scope?: FindingScope;
  severity?: string;
  code?: string;
  /** Labels the finding's domain must carry, all of them. */
  labels?: Record<string, string>;
  limit: number;
}

/** What one run changed among findings: the rows that opened and the rows that resolved. */
export interface AppliedChanges {
  opened: Finding[];
  resolved: Finding[];
}

const ACTIVE = { in: ['pending', 'open'] };

/**
 * One lock for every change to the findings about the monitor: a planning transaction takes it
 * exclusively (read, plan, write), a sighting of an already open one shares it.
 */
const MONITOR_LOCK = Prisma.sql`hashtext('mxwatch:monitor-findings')`;

/** What a domain's run is compared with (FindingsRepository.activeWithMonitor). */
export interface RunBaseline {
  domain: Finding[];
  monitor: Finding[];
  policyStates: Map<string, unknown>;
}

/** A row of `baselineSelect`: a finding (all null when there is none), the states and `extra` on the first row. */
export type BaselineRow = Finding & { policyStates: Record<string, unknown> | null; extra?: unknown };

/**
 * The statement (or a data-modifying statement's final SELECT) that reads a RunBaseline: one row
 * per active finding and at least one row; the policy states, and the value of `extra` (a scalar
 * subquery) if given, ride on the first. Raw: the query builder cost ~0.3 ms of CPU per check.
 */
export function baselineSelect(domainId: string, extra?: Prisma.Sql): Prisma.Sql {
  return Prisma.sql`
    SELECT f.*, CASE WHEN row_number() OVER () = 1 THEN s."states" END AS "policyStates"${extra ? Prisma.sql`, CASE WHEN row_number() OVER () = 1 THEN (${extra}) END AS "extra"` : Prisma.empty}
      FROM (SELECT COALESCE(jsonb_object_agg(p."probe", p."state"), '{}'::jsonb) AS "states" FROM "PolicyState" p WHERE p."domainId" = ${domainId}::uuid) AS s
      LEFT JOIN "Finding" f ON (f."domainId" = ${domainId}::uuid OR f."domainId" IS NULL) AND f."status" IN (${Prisma.join(ACTIVE.in)})`;
}

export function baselineFromRows(domainId: string, found: BaselineRow[]): RunBaseline {
  const policyStates = new Map(Object.entries(found.find((r) => r.policyStates !== null)?.policyStates ?? {}));
  const rows = found.filter((r) => r.id !== null).map(({ policyStates: _, extra: __, ...f }) => readable(f));
  return { domain: rows.filter((f) => f.domainId === domainId), monitor: rows.filter((f) => f.domainId === null), policyStates };
}

@Injectable()
export class FindingsRepository {
  constructor(private readonly db: DatabaseService) {}

  /** Targets as the probes reported them (see storable-text.ts), so the lifecycle recognises a finding whose target held a NUL. */
  async active(domainId: string): Promise<Finding[]> {
    const rows = await this.db.prisma.finding.findMany({ where: { domainId, status: ACTIVE } });
    return rows.map(readable);
  }

  /**
   * What a domain's run is compared with, in one statement: the domain's active findings, the
   * active findings about the monitor (a run that only sees again what is already open about the
   * monitor then needs no transaction) and the domain's last conclusive policy state per probe
   * (runtime/policy-changes.service.ts), which cost a statement of its own, once per check.
   * ChecksRepository.storeRun reads the same in the statement that stores the run.
   */
  async activeWithMonitor(domainId: string): Promise<RunBaseline> {
    return baselineFromRows(domainId, await this.db.prisma.$queryRaw<BaselineRow[]>`${baselineSelect(domainId)}`);
  }

  /**
   * `count` more sightings (the last at `now`) of an open finding about the monitor, in one statement: the steady state of
   * every domain's run while, say, the DNSBL resolver is public. It shares the lock a planning
   * transaction holds exclusively, so it never lands between that one's read and write. False when
   * the finding is no longer open (a run resolved it meanwhile): the caller then plans under the lock.
   */
  async seenAboutMonitor(id: string, draft: FindingDraft, now: Date, count = 1): Promise<boolean> {
    const evidence = JSON.stringify(toStorable(draft.evidence));
    const n = await this.db.prisma.$executeRaw`
      UPDATE "Finding"
         SET "seenCount" = "seenCount" + ${count}, "missCount" = 0, "lastSeenAt" = GREATEST("lastSeenAt", ${now}), "severity" = ${draft.severity},
             "message" = ${toStorableText(draft.message)}, "remediation" = ${toStorableText(draft.remediation)}, "evidence" = ${evidence}::jsonb
       WHERE "id" = ${id}::uuid AND "domainId" IS NULL AND "status" = 'open'
         AND (SELECT true FROM (SELECT pg_advisory_xact_lock_shared(${MONITOR_LOCK})) AS l)`;
    return n === 1;
  }

  /**
   * Applies one run's lifecycle changes atomically (one statement); returns the rows that opened
   * and resolved. Straight to the driver, as the statement that stores the run: every check of a
   * domain with an active finding runs it, with the findings' evidence as its JSON parameter.
   */
  async apply(domainId: string, changes: LifecycleChange[], now: Date): Promise<AppliedChanges> {
    return applyChanges((q) => this.db.sql<Finding>(q), domainId, changes, now);
  }

  /**
   * The findings about the monitor itself, planned and changed under one lock: every domain's run
   * reports on them, runs finish concurrently (and on several workers sharing the database), so
   * reading the active episodes, planning and writing must not interleave, or two runs would both
   * create the episode (open it twice) or count the same sighting against each other's state.
   * `plan` sees the active episodes (targets as reported) and when each (code, target) last resolved.
   */
  async applyMonitor(
    plan: (active: Finding[], lastResolvedAt: (code: string, target: string) => Date | undefined) => LifecycleChange[],
    now: Date,
  ): Promise<AppliedChanges> {
    return this.db.prisma.$transaction(async (tx) => {
      // Held until the transaction ends; a constant key (one lock for all monitor findings: they are few and change rarely).
      await tx.$executeRaw`SELECT pg_advisory_xact_lock(${MONITOR_LOCK})`;
      const active = (await tx.finding.findMany({ where: { domainId: null, status: ACTIVE } })).map(readable);
      const resolved = await tx.finding.groupBy({ by: ['code', 'target'], where: { domainId: null, status: 'resolved' }, _max: { resolvedAt: true } });
      const lastResolved = new Map(resolved.map((r) => [`${r.code}\u0000${fromStorableText(r.target)}`, r._max.resolvedAt ?? undefined]));
      const changes = plan(active, (code, target) => lastResolved.get(`${code}\u0000${target}`));
      return changes.length > 0 ? applyChanges((q) => tx.$queryRaw<Finding[]>(q), null, changes, now) : { opened: [], resolved: [] };
    });
  }

  list(q: FindingQuery): Promise<(Finding & { domain: { name: string } | null })[]> {
    const where: Prisma.FindingWhereInput = { status: q.status ? q.status : { in: ['open', 'resolved'] } };
    if (q.domainId) where.domainId = q.domainId;
    else if (q.scope === 'monitor') where.domainId = null;
    else if (q.scope === 'domain') where.domainId = { not: null };
    if (q.severity) where.severity = q.severity;
    if (q.code) where.code = q.code;
    const labels = Object.entries(q.labels ?? {});
    if (labels.length > 0) where.domain = { AND: labels.map(([k, v]) => ({ labels: { path: [k], equals: v } })) };
    return this.db.prisma.finding.findMany({
      where,
      include: { domain: { select: { name: true } } },
      orderBy: [{ lastSeenAt: 'desc' }, { id: 'asc' }],
      take: q.limit,
    });
  }

  openFor(domainId: string): Promise<Finding[]> {
    return this.db.prisma.finding.findMany({ where: { domainId, status: 'open' }, orderBy: [{ severity: 'asc' }, { code: 'asc' }, { target: 'asc' }] });
  }

  /** Open findings about mxwatch itself (the status pages' banner). */
  openAboutMonitor(): Promise<Finding[]> {
    return this.db.prisma.finding.findMany({ where: { domainId: null, status: 'open' }, orderBy: [{ severity: 'asc' }, { code: 'asc' }, { target: 'asc' }] });
  }

  /** Findings about mxwatch itself that opened or resolved since `since`, newest first (one may appear twice). */
  async recentAboutMonitor(since: Date, limit: number): Promise<Array<{ event: 'opened' | 'resolved'; at: Date; finding: Finding }>> {
    const rows = await this.db.prisma.finding.findMany({
      where: { domainId: null, OR: [{ openedAt: { gte: since } }, { resolvedAt: { gte: since } }] },
      orderBy: [{ lastSeenAt: 'desc' }],
      // Each row gives up to two events; monitor findings are few.
      take: limit * 2,
    });
    const events = rows.flatMap((f) => [
      ...(f.openedAt && f.openedAt >= since ? [{ event: 'opened' as const, at: f.openedAt, finding: f }] : []),
      ...(f.resolvedAt && f.resolvedAt >= since ? [{ event: 'resolved' as const, at: f.resolvedAt, finding: f }] : []),
    ]);
    return events.sort((a, b) => b.at.getTime() - a.at.getTime()).slice(0, limit);
  }
}

function readable(f: Finding): Finding {
  return { ...f, target: fromStorableText(f.target) };
}

/**
 * One run's lifecycle changes as one statement (atomic by itself, so a domain's run needs no
 * transaction; the monitor's runs inside theirs, under the lock). Through the query builder, an
 * interactive transaction with a statement per change cost a domain with findings ~1 ms of CPU
 * per run (bench/README.md). A change whose finding is gone meanwhile (its domain deleted) changes
 * nothing. Returns the rows that opened and resolved, in the order of `changes`.
 */
async function applyChanges(query: (sql: Prisma.Sql) => Promise<Finding[]>, domainId: string | null, changes: LifecycleChange[], now: Date): Promise<AppliedChanges> {
  const rows = changes.map((c) => {
    switch (c.kind) {
      case 'create':
      case 'seen': {
        const d = c.draft;
        const text = { severity: d.severity, message: toStorableText(d.message), remediation: toStorableText(d.remediation), evidence: toStorable(d.evidence) };
        return c.kind === 'create'
          ? { kind: c.kind, id: randomUUID(), code: d.code, probe: d.probe, target: toStorableText(d.target), status: c.status, ...text }
          : { kind: c.kind, id: c.id, seenCount: c.seenCount, opens: c.opens, ...text };
      }
      default:
        return c;
    }
  });
  const at = sqlTimestamp(now);
  const found = await query(Prisma.sql`
    WITH "c" AS (
      SELECT c.v FROM jsonb_array_elements(${JSON.stringify(rows)}::jsonb) AS c(v)
    ), "created" AS (
      INSERT INTO "Finding" ("id", "domainId", "code", "severity", "probe", "target", "message", "remediation", "evidence", "status", "seenCount", "missCount", "firstSeenAt", "lastSeenAt", "openedAt")
      SELECT (v->>'id')::uuid, ${domainId}::uuid, v->>'code', v->>'severity', v->>'probe', v->>'target', v->>'message', v->>'remediation', v->'evidence', v->>'status',
             1, 0, ${at}::timestamp(3), ${at}::timestamp(3), CASE WHEN v->>'status' = 'open' THEN ${at}::timestamp(3) END
        FROM "c" WHERE v->>'kind' = 'create'
      RETURNING *
    ), "seen" AS (
      UPDATE "Finding" f
         SET "seenCount" = (c.v->>'seenCount')::int, "missCount" = 0, "lastSeenAt" = ${at}::timestamp(3), "severity" = c.v->>'severity',
             "message" = c.v->>'message', "remediation" = c.v->>'remediation', "evidence" = c.v->'evidence',
             "status" = CASE WHEN (c.v->>'opens')::boolean THEN 'open' ELSE f."status" END,
             "openedAt" = CASE WHEN (c.v->>'opens')::boolean THEN ${at}::timestamp(3) ELSE f."openedAt" END
        FROM "c" WHERE c.v->>'kind' = 'seen' AND f."id" = (c.v->>'id')::uuid
      RETURNING f.*
    ), "missed" AS (
      UPDATE "Finding" f
         SET "missCount" = (c.v->>'missCount')::int,
             "status" = CASE WHEN (c.v->>'resolves')::boolean THEN 'resolved' ELSE f."status" END,
             "resolvedAt" = CASE WHEN (c.v->>'resolves')::boolean THEN ${at}::timestamp(3) ELSE f."resolvedAt" END
        FROM "c" WHERE c.v->>'kind' = 'miss' AND f."id" = (c.v->>'id')::uuid
      RETURNING f.*
    ), "dropped" AS (
      DELETE FROM "Finding" f USING "c" WHERE c.v->>'kind' = 'drop' AND f."id" = (c.v->>'id')::uuid
      RETURNING f."id"
    ), "retired" AS (
      UPDATE "Finding" f SET "status" = 'resolved', "resolvedAt" = ${at}::timestamp(3)
        FROM "c" WHERE c.v->>'kind' = 'retire' AND f."id" = (c.v->>'id')::uuid
      RETURNING f."id"
    )
    SELECT * FROM "created" UNION ALL SELECT * FROM "seen" UNION ALL SELECT * FROM "missed"`);
  const byId = new Map(found.map((f) => [f.id, f]));
  const opened: Finding[] = [];
  const resolved: Finding[] = [];
  changes.forEach((c, i) => {
    const row = byId.get(rows[i]!.id);
    if (!row) return;
    if ((c.kind === 'create' && c.status === 'open') || (c.kind === 'seen' && c.opens)) opened.push(row);
    if (c.kind === 'miss' && c.resolves) resolved.push(row);
  });
  return { opened, resolved };
}
