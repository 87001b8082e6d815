import { Injectable } from '@nestjs/common';
import { Prisma, type Domain, type Finding } from '../generated/prisma/client.js';
import { readLatestRun, type StoredRun } from './checks.repository.js';
import { DatabaseService } from '../database/database.service.js';

/** Worst open severity of a domain; `ok` when nothing is open. */
export type WorstSeverity = 'critical' | 'warning' | 'info' | 'ok';
export const WORST_SEVERITIES: readonly WorstSeverity[] = ['critical', 'warning', 'info', 'ok'];

export interface FleetQuery {
  /** Substring of the domain name (case-insensitive). */
  text?: string;
  /** `key=value` (exact) or `key` (present). */
  label?: { key: string; value?: string };
  severity?: WorstSeverity;
  limit: number;
  offset: number;
}

export interface FleetRow {
  name: string;
  labels: Record<string, string>;
  enabled: boolean;
  worst: WorstSeverity;
  critical: number;
  warning: number;
  info: number;
  lastCheckAt: Date | null;
  /** Status of the latest run (pass/warn/fail/untestable), null before the first check. */
  lastStatus: string | null;
}

export interface FleetPage {
  rows: FleetRow[];
  /** Domains matching the text and label filters, by worst severity (the severity filter aside). */
  bySeverity: Record<WorstSeverity, number>;
  /** Domains matching every filter. */
  total: number;
}

export interface RecentEvent {
  event: 'opened' | 'resolved';
  at: Date;
  domain: string;
  code: string;
  severity: string;
  target: string;
  message: string;
}

export interface PolicyChangeRow {
  probe: string;
  kind: string;
  weakening: boolean;
  text: string;
  observedAt: Date;
}

export interface TimelineCell {
  probe: string;
  /** 0 = the oldest bucket. */
  bucket: number;
  pass: number;
  warn: number;
  fail: number;
  untestable: number;
}

const RANK_SQL = Prisma.sql`CASE WHEN f.critical > 0 THEN 3 WHEN f.warning > 0 THEN 2 WHEN f.info > 0 THEN 1 ELSE 0 END`;
const RANK_OF: Record<WorstSeverity, number> = { critical: 3, warning: 2, info: 1, ok: 0 };
const BY_RANK: readonly WorstSeverity[] = ['ok', 'info', 'warning', 'critical'];

/** `%`, `_` and `\` are pattern characters to ILIKE; a search for "a_b" means those three characters. */
function likeContains(text: string): string {
  return `%${text.replace(/[\\%_]/g, (c) => `\\${c}`)}%`;
}

/**
 * What the status pages read. Each page is a handful of set-based statements, never one per
 * domain, so the fleet page costs the same at 10 domains and at 10,000.
 */
@Injectable()
export class PagesRepository {
  constructor(private readonly db: DatabaseService) {}

  /**
   * One statement: open-finding counts per domain, filtered, ranked worst first, one page of it,
   * with each page row's latest run joined afterwards (so only `limit` index lookups).
   */
  async fleet(q: FleetQuery): Promise<FleetPage> {
    const filters: Prisma.Sql[] = [];
    if (q.text) filters.push(Prisma.sql`d."name" ILIKE ${likeContains(q.text.toLowerCase())}`);
    if (q.label) {
      filters.push(
        q.label.value === undefined
          ? Prisma.sql`d."labels" ? ${q.label.key}`
          : Prisma.sql`d."labels" @> ${JSON.stringify({ [q.label.key]: q.label.value })}::jsonb`,
      );
    }
    const where = filters.length ? Prisma.sql`WHERE ${Prisma.join(filters, ' AND ')}` : Prisma.empty;
    const severity = q.severity === undefined ? Prisma.empty : Prisma.sql`WHERE m."rank" = ${RANK_OF[q.severity]}`;
    const rows = await this.db.prisma.$queryRaw<
      Array<{ name: string; labels: unknown; enabled: boolean; rank: number; critical: number; warning: number; info: number; lastCheckAt: Date | null; lastStatus: string | null; total: number; c3: number; c2: number; c1: number; c0: number }>
    >`
      WITH f AS (
        SELECT "domainId",
               count(*) FILTER (WHERE "severity" = 'critical')::int AS critical,
               count(*) FILTER (WHERE "severity" = 'warning')::int AS warning,
               count(*) FILTER (WHERE "severity" = 'info')::int AS info
          FROM "Finding" WHERE "status" = 'open' GROUP BY "domainId"
      ), m AS (
        SELECT d."id", d."name", d."labels", d."enabled", d."lastCheckAt",
               COALESCE(f.critical, 0) AS critical, COALESCE(f.warning, 0) AS warning, COALESCE(f.info, 0) AS info,
               ${RANK_SQL} AS "rank"
          FROM "Domain" d LEFT JOIN f ON f."domainId" = d."id"
          ${where}
      ), counted AS (
        SELECT m.*,
               count(*) FILTER (WHERE m."rank" = 3) OVER ()::int AS c3,
               count(*) FILTER (WHERE m."rank" = 2) OVER ()::int AS c2,
               count(*) FILTER (WHERE m."rank" = 1) OVER ()::int AS c1,
               count(*) FILTER (WHERE m."rank" = 0) OVER ()::int AS c0
          FROM m
      ), page AS (
        SELECT m.*, count(*) OVER ()::int AS total
          FROM counted m ${severity}
         ORDER BY m."rank" DESC, m.critical DESC, m.warning DESC, m.info DESC, m."name" ASC
         LIMIT ${q.limit} OFFSET ${q.offset}
      )
      SELECT p.*, r."status" AS "lastStatus"
        FROM page p
        LEFT JOIN LATERAL (SELECT "status" FROM "CheckRun" WHERE "domainId" = p."id" ORDER BY "startedAt" DESC LIMIT 1) r ON true
       ORDER BY p."rank" DESC, p.critical DESC, p.warning DESC, p.info DESC, p."name" ASC`;
    // A page past the end has no rows to carry the counts: ask once more without the page.
    const counts = rows[0] ?? (q.offset > 0 ? await this.countsOnly(where, severity) : null);
    return {
      rows: rows.map((r) => ({
        name: r.name,
        labels: (r.labels ?? {}) as Record<string, string>,
        enabled: r.enabled,
        worst: BY_RANK[r.rank]!,
        critical: r.critical,
        warning: r.warning,
        info: r.info,
        lastCheckAt: r.lastCheckAt,
        lastStatus: r.lastStatus,
      })),
      bySeverity: { critical: counts?.c3 ?? 0, warning: counts?.c2 ?? 0, info: counts?.c1 ?? 0, ok: counts?.c0 ?? 0 },
      total: counts?.total ?? 0,
    };
  }

  private async countsOnly(where: Prisma.Sql, severity: Prisma.Sql): Promise<{ total: number; c3: number; c2: number; c1: number; c0: number } | null> {
    const [row] = await this.db.prisma.$queryRaw<Array<{ total: number; c3: number; c2: number; c1: number; c0: number }>>`
      WITH f AS (
        SELECT "domainId",
               count(*) FILTER (WHERE "severity" = 'critical')::int AS critical,
               count(*) FILTER (WHERE "severity" = 'warning')::int AS warning,
               count(*) FILTER (WHERE "severity" = 'info')::int AS info
          FROM "Finding" WHERE "status" = 'open' GROUP BY "domainId"
      ), m AS (
        SELECT ${RANK_SQL} AS "rank" FROM "Domain" d LEFT JOIN f ON f."domainId" = d."id" ${where}
      )
      SELECT (SELECT count(*) FROM m ${severity})::int AS total,
             count(*) FILTER (WHERE m."rank" = 3)::int AS c3, count(*) FILTER (WHERE m."rank" = 2)::int AS c2,
             count(*) FILTER (WHERE m."rank" = 1)::int AS c1, count(*) FILTER (WHERE m."rank" = 0)::int AS c0
        FROM m`;
    return row ?? null;
  }

  /** Findings that opened or resolved since `since`, newest first (one finding may appear twice). */
  recent(since: Date, limit: number): Promise<RecentEvent[]> {
    // Each side is cut to `limit` before the domain names are joined, so a busy day costs a top-N
    // per side, not a sort of every finding that moved.
    return this.db.prisma.$queryRaw<RecentEvent[]>`
      WITH e AS (
        (SELECT 'opened' AS "event", "openedAt" AS "at", "domainId", "code", "severity", "target", "message"
           FROM "Finding" WHERE "openedAt" >= ${since} ORDER BY "openedAt" DESC LIMIT ${limit})
        UNION ALL
        (SELECT 'resolved', "resolvedAt", "domainId", "code", "severity", "target", "message"
           FROM "Finding" WHERE "resolvedAt" >= ${since} ORDER BY "resolvedAt" DESC LIMIT ${limit})
      )
      SELECT e."event", e."at", d."name" AS "domain", e."code", e."severity", e."target", e."message"
        FROM e JOIN "Domain" d ON d."id" = e."domainId"
       ORDER BY e."at" DESC, d."name" ASC, e."code" ASC
       LIMIT ${limit}`;
  }

  domain(name: string): Promise<Domain | null> {
    return this.db.prisma.domain.findUnique({ where: { name } });
  }

  /** The latest run of a domain and its results, in result order. */
  latestRun(domainId: string): Promise<StoredRun | null> {
    return readLatestRun(this.db.prisma, domainId);
  }

  openFindings(domainId: string): Promise<Finding[]> {
    return this.db.prisma.finding.findMany({ where: { domainId, status: 'open' }, orderBy: [{ severity: 'asc' }, { probe: 'asc' }, { code: 'asc' }, { target: 'asc' }] });
  }

  /** The domain's policy changes (what the probes' policy contracts recorded), newest first. */
  changes(domainId: string, limit: number): Promise<PolicyChangeRow[]> {
    return this.db.prisma.$queryRaw<PolicyChangeRow[]>`
      SELECT "probe", "kind", "weakening", "text", "observedAt"
        FROM "PolicyChange"
       WHERE "domainId" = ${domainId}::uuid
       ORDER BY "observedAt" DESC, "id" DESC
       LIMIT ${limit}`;
  }

  /**
   * Results per probe and time bucket over [since, since + buckets × bucketMs), counted by status,
   * in one grouped statement on the (domainId, startedAt) index.
   */
  async timeline(domainId: string, since: Date, bucketMs: number, buckets: number): Promise<TimelineCell[]> {
    const until = new Date(since.getTime() + bucketMs * buckets);
    const rows = await this.db.prisma.$queryRaw<TimelineCell[]>`
      SELECT "probe",
             floor(extract(epoch FROM ("startedAt" - ${since}::timestamp)) * 1000 / ${bucketMs})::int AS "bucket",
             count(*) FILTER (WHERE "status" = 'pass')::int AS "pass",
             count(*) FILTER (WHERE "status" = 'warn')::int AS "warn",
             count(*) FILTER (WHERE "status" = 'fail')::int AS "fail",
             count(*) FILTER (WHERE "status" = 'untestable')::int AS "untestable"
        FROM "ProbeResult"
       WHERE "domainId" = ${domainId}::uuid AND "startedAt" >= ${since} AND "startedAt" < ${until}
       GROUP BY 1, 2
       ORDER BY 1, 2`;
    return rows.filter((r) => r.bucket >= 0 && r.bucket < buckets);
  }
}
