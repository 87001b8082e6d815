import { Injectable } from '@nestjs/common';
import { Prisma } from '../generated/prisma/client.js';
import { DatabaseService } from '../database/database.service.js';
import type { ProbeResult, ProbeStatus } from '../probes/probe.types.js';
import { ChecksRepository, type ProbeResultRow } from './checks.repository.js';
import { fromStorableText } from './storable-text.js';
import { sqlTimestamp } from '../database/sql-timestamp.js';

/** A stored run without its results: enough to decide whether the metrics feed needs it. */
export interface RunHead {
  id: string;
  domainId: string;
  domain: string;
  enabled: boolean;
  startedAt: Date;
  /** The transaction that stored it. */
  txid: bigint;
}

/** An enabled domain and its latest stored run (null: never checked). */
export interface DomainHead {
  domainId: string;
  domain: string;
  run: { id: string; startedAt: Date } | null;
}

/** A stored run with its results in the shape the probes produced them. */
export interface StoredRun {
  id: string;
  domainId: string;
  startedAt: Date;
  finishedAt: Date;
  results: ProbeResult[];
}

/** The oldest transaction running in the statement's snapshot: where the next read of stored runs starts. */
const READ_POINT = Prisma.sql`(pg_snapshot_xmin(pg_current_snapshot())::text)::bigint`;

const MARKERS = /[\u2400\u238b]/;

/** Whether any string of a JSON value (keys included) holds what `toStorable` writes for a NUL or an escape. */
function hasMarkers(value: unknown): boolean {
  if (typeof value === 'string') return MARKERS.test(value);
  if (Array.isArray(value)) return value.some(hasMarkers);
  if (value !== null && typeof value === 'object') {
    for (const k in value) if (MARKERS.test(k) || hasMarkers((value as Record<string, unknown>)[k])) return true;
  }
  return false;
}

/** `toStorable` undone on every string of a JSON value (keys included); the value itself when there is nothing to undo (nearly always). */
function fromStorable(value: unknown): unknown {
  if (!hasMarkers(value)) return value;
  if (typeof value === 'string') return fromStorableText(value);
  if (Array.isArray(value)) return value.map(fromStorable);
  if (value !== null && typeof value === 'object') return Object.fromEntries(Object.entries(value).map(([k, v]) => [fromStorableText(k), fromStorable(v)]));
  return value;
}

/**
 * A stored result row as the probe returned it: the details column holds the probe's details and
 * its observations (`{ ...details, observations }`, ChecksRepository.storeRun), with NULs made
 * storable. The one place that knows how a result is stored, for the metrics feed.
 */
export function toProbeResult(row: Pick<ProbeResultRow, 'probe' | 'target' | 'status' | 'reason' | 'startedAt' | 'durationMs' | 'details'>): ProbeResult {
  const stored = fromStorable(row.details ?? {});
  const { observations, ...details } = (stored !== null && typeof stored === 'object' && !Array.isArray(stored) ? stored : {}) as Record<string, unknown>;
  return {
    probe: row.probe,
    target: fromStorableText(row.target),
    status: row.status as ProbeStatus,
    ...(row.reason !== null ? { reason: fromStorableText(row.reason) } : {}),
    startedAt: row.startedAt,
    durationMs: row.durationMs,
    details,
    observations: Array.isArray(observations) ? (observations as ProbeResult['observations']) : [],
  };
}

/**
 * What the metrics feed reads (metrics/metrics-feed.service.ts): which runs were stored lately,
 * each enabled domain's latest run, earlier runs of a domain, and runs with their results.
 */
@Injectable()
export class MetricsFeedRepository {
  constructor(
    private readonly db: DatabaseService,
    private readonly checks: ChecksRepository,
  ) {}

  /**
   * Where the next read of stored runs starts: the oldest transaction still running now. A run
   * not visible to a read that comes after this call was stored by a transaction running at this
   * moment or begun later, so its transaction id is at least this one. Exact, whatever the
   * clocks of the workers say and however long a run took to commit.
   */
  async readPoint(): Promise<bigint> {
    const [row] = await this.db.prisma.$queryRaw<Array<{ xmin: bigint }>>`SELECT ${READ_POINT} AS "xmin"`;
    return row!.xmin;
  }

  /**
   * Runs stored by transactions from `since` on (the CheckRun txid index), at most `limit`, with
   * the transaction that stored each, and where the next read starts: the oldest transaction
   * running when this one read (its own snapshot), so every run it could not see is at or after
   * it. Runs stored earlier, and runs stored before the txid column existed, are the
   * reconciliation's. One statement: the feed reads every second.
   */
  async runsStoredSince(since: bigint, limit: number): Promise<{ heads: RunHead[]; next: bigint }> {
    // One row with null heads when nothing was stored since.
    const rows = await this.db.prisma.$queryRaw<Array<Omit<RunHead, 'id'> & { id: string | null; next: bigint }>>`
      SELECT p."next", h.*
        FROM (SELECT ${READ_POINT} AS "next") p
        LEFT JOIN LATERAL (
          SELECT r."id"::text AS "id", r."domainId"::text AS "domainId", d."name" AS "domain", d."enabled" AS "enabled", r."startedAt" AS "startedAt", r."txid" AS "txid"
            FROM "CheckRun" r JOIN "Domain" d ON d."id" = r."domainId"
           WHERE r."txid" >= ${since}
           LIMIT ${limit}
        ) h ON true`;
    const heads: RunHead[] = [];
    for (const { next: _, id, ...head } of rows) if (id !== null) heads.push({ id, ...head });
    return { heads, next: rows[0]!.next };
  }

  /** Every enabled domain with its latest run (one probe of the (domainId, startedAt) index per domain). */
  async latestRuns(): Promise<DomainHead[]> {
    const rows = await this.db.prisma.$queryRaw<Array<{ domainId: string; domain: string; runId: string | null; startedAt: Date | null }>>`
      SELECT d."id"::text AS "domainId", d."name" AS "domain", r."id"::text AS "runId", r."startedAt" AS "startedAt"
        FROM "Domain" d
        LEFT JOIN LATERAL (
          SELECT x."id", x."startedAt" FROM "CheckRun" x WHERE x."domainId" = d."id" ORDER BY x."startedAt" DESC, x."id" DESC LIMIT 1
        ) r ON true
       WHERE d."enabled"`;
    return rows.map((r) => ({ domainId: r.domainId, domain: r.domain, run: r.runId && r.startedAt ? { id: r.runId, startedAt: r.startedAt } : null }));
  }

  /** Up to `perDomain` runs of each domain before the given run (by startedAt, then id), newest first. */
  async runsBefore(before: ReadonlyArray<{ domainId: string; startedAt: Date; id: string }>, perDomain: number): Promise<Array<{ domainId: string; id: string; startedAt: Date }>> {
    if (before.length === 0) return [];
    const json = JSON.stringify(before.map((b) => ({ d: b.domainId, at: sqlTimestamp(b.startedAt), id: b.id })));
    return this.db.prisma.$queryRaw<Array<{ domainId: string; id: string; startedAt: Date }>>`
      SELECT x.v->>'d' AS "domainId", r."id"::text AS "id", r."startedAt" AS "startedAt"
        FROM jsonb_array_elements(${json}::jsonb) AS x(v)
        CROSS JOIN LATERAL (
          SELECT c."id", c."startedAt" FROM "CheckRun" c
           WHERE c."domainId" = (x.v->>'d')::uuid
             AND (c."startedAt", c."id") < ((x.v->>'at')::timestamp(3), (x.v->>'id')::uuid)
           ORDER BY c."startedAt" DESC, c."id" DESC
           LIMIT ${perDomain}
        ) r`;
  }

  /** Runs with their results as the probes returned them; ids no longer stored are left out. */
  async runs(ids: readonly string[]): Promise<StoredRun[]> {
    const runs = await this.checks.runsWithResults(ids);
    return runs.map((run) => ({ id: run.id, domainId: run.domainId, startedAt: run.startedAt, finishedAt: run.finishedAt, results: run.results.map(toProbeResult) }));
  }
}
