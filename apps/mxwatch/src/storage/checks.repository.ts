import { createHash, randomUUID } from 'node:crypto';
import { Injectable } from '@nestjs/common';
import { Prisma, type CheckRun as CheckRunModel, type ProbeResult as ProbeResultRaw } from '../generated/prisma/client.js';
import { DatabaseService } from '../database/database.service.js';
import { sqlStateOf } from '../database/direct-sql.js';
import type { Db } from '../database/open-database.js';
import type { ProbeResult } from '../probes/probe.types.js';
import { probeByName } from '../probes/registry.js';
import { baselineFromRows, baselineSelect, type BaselineRow, type RunBaseline } from './findings.repository.js';
import { toStorable } from './storable-text.js';
import { fromSqlTimestamp, sqlTimestamp } from '../database/sql-timestamp.js';

export type { RunBaseline };

/** A stored run as the code sees it: the client omits `txid`, the metrics feed's alone (database/open-database.ts). */
export type CheckRun = Omit<CheckRunModel, 'txid'>;

/** A stored run with its results, as a read returns it. */
export type StoredRun = CheckRun & { results: ProbeResultRow[] };

/** A stored result as the history shows it: a host-level result's details come from its HostResult. */
export type ProbeResultRow = Omit<ProbeResultRaw, 'details'> & { details: Prisma.JsonValue };

/** Reads a result row with its host-level details joined in (`include` for Prisma queries). */
export const WITH_HOST_DETAILS = { hostResult: { select: { details: true } } } as const;

/** A row read with WITH_HOST_DETAILS, in the shape the history has always had. */
export function joinHostDetails(row: ProbeResultRaw & { hostResult?: { details: Prisma.JsonValue } | null }): ProbeResultRow {
  const { hostResult, ...rest } = row;
  return { ...rest, details: hostResult ? hostResult.details : (row.details ?? {}) };
}

/** The row a result becomes: host-level ones carry the digest that names their HostResult. */
interface StoredResult {
  probe: string;
  target: string;
  status: string;
  reason: string | null;
  startedAt: string;
  durationMs: number;
  details: unknown;
  digest?: string;
}

/** A result as `runsWithResults` reads it: id, probe, target, status, reason, startedAt, durationMs, details, hostResultId. */
type ResultTuple = [string, string, string, string, string | null, string, number, Prisma.JsonValue | null, string | null];

/** How many host-level results' details the metrics feed keeps at hand (a miss costs one more read). */
const HOST_DETAILS_MAX = 5_000;

/** How many stored digests a process remembers before it starts over (a miss only costs sending the row again). */
const STORED_DIGESTS_MAX = 20_000;

/** The domain was deleted while its check ran: there is nothing to store the run against. */
export class DomainGoneError extends Error {}

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

const FOREIGN_KEY_VIOLATION = '23503';
const UNIQUE_VIOLATION = '23505';
/** Why PostgreSQL ended a run statement that can simply be sent again. */
export type RunConflict = 'deadlock' | 'serialization';
/**
 * What PostgreSQL ends a statement with when concurrent transactions got in each other's way
 * (deadlock_detected, serialization_failure): the statement did nothing, and running it again is
 * PostgreSQL's own advice. The run's statement is atomic by itself, so it is retried rather than
 * the finished check lost for the cycle.
 */
const TRANSIENT_CONFLICTS = new Map<string, RunConflict>([
  ['40P01', 'deadlock'],
  ['40001', 'serialization'],
]);
const RUN_STATEMENT_ATTEMPTS = 3;

/** A domain's latest run and its results in result order, host-level details joined in (the REST API's and the status page's). */
export async function readLatestRun(prisma: Db, domainId: string): Promise<StoredRun | null> {
  const run = await prisma.checkRun.findFirst({
    where: { domainId },
    orderBy: { startedAt: 'desc' },
    include: { results: { orderBy: { id: 'asc' }, include: WITH_HOST_DETAILS } },
  });
  return run && { ...run, results: run.results.map(joinHostDetails) };
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
  }): Promise<StoredRun> {
    return (await this.storeRunWithBaseline(input)).run;
  }

  /**
   * `storeRun`, and in the same statement what the run is compared with next: the domain's active
   * findings, the monitor's and the domain's policy states as they were before (FindingsRepository
   * .activeWithMonitor), one statement per check fewer.
   */
  async storeRunWithBaseline(input: Parameters<ChecksRepository['storeRun']>[0]): Promise<{ run: StoredRun; baseline: RunBaseline }> {
    try {
      return await this.storeRunTx(input);
    } catch (e) {
      // The statements go straight to the driver (database/direct-sql.ts): its errors carry the SQLSTATE.
      if (sqlStateOf(e) === FOREIGN_KEY_VIOLATION) throw new DomainGoneError(input.domainId);
      if (input.idempotencyKey !== undefined && sqlStateOf(e) === UNIQUE_VIOLATION) throw new DuplicateRunError(input.idempotencyKey);
      throw e;
    }
  }

  /**
   * The run, its results (ids in result order) and the domain's schedule, as one statement,
   * atomic by itself. Through Prisma's query builder the same writes (an interactive transaction
   * with a createMany) cost ~10 ms of CPU per run, most of a check's CPU at fleet scale; as one
   * statement with the results as one JSON parameter they cost ~1.5 ms, and sent straight to the
   * driver instead of through `$queryRaw` less again (database/direct-sql.ts, bench/README.md).
   *
   * Storage is proportional to what was probed: a host-level result (a probe whose scope is not
   * the domain) is stored once in HostResult, named by a digest of its content, and each run that
   * used it (every domain on that MX, on any worker) gets a thin reference row. A result its probe
   * calls a `fact` (a port closed and not required) becomes one line of the run's `facts`.
   */
  private async storeRunTx(input: Parameters<ChecksRepository['storeRun']>[0]): Promise<{ run: StoredRun; baseline: RunBaseline }> {
    const facts: string[] = [];
    const kept: ProbeResult[] = [];
    for (const r of input.results) {
      const fact = probeByName(r.probe)?.fact?.(r);
      if (fact) facts.push(toStorable(`${r.probe} ${fact}`));
      else kept.push(r);
    }
    const run: CheckRun = {
      id: randomUUID(),
      domainId: input.domainId,
      trigger: input.trigger,
      status: input.status,
      startedAt: input.startedAt,
      finishedAt: input.finishedAt,
      durationMs: input.finishedAt.getTime() - input.startedAt.getTime(),
      idempotencyKey: input.idempotencyKey ?? null,
      facts,
    };
    const stored = kept.map((r) => this.toStored(r));
    try {
      return await this.insertRunRetrying(run, input, stored, true);
    } catch (e) {
      // A digest this process believed stored was not there (pruned, or the table emptied): the
      // CHECK on ProbeResult refused the whole statement. Once more, sending every host result.
      if (!stored.some((r) => r.digest !== undefined && this.storedDigests.has(r.digest))) throw e;
      this.storedDigests.clear();
      return await this.insertRunRetrying(run, input, stored, false);
    }
  }

  /** `insertRun`, again (after 10-60 ms) when PostgreSQL ended it over a conflict with another transaction. */
  private async insertRunRetrying(...args: Parameters<ChecksRepository['insertRun']>): Promise<{ run: StoredRun; baseline: RunBaseline }> {
    for (let attempt = 1; ; attempt++) {
      try {
        return await this.insertRun(...args);
      } catch (e) {
        const conflict = TRANSIENT_CONFLICTS.get(sqlStateOf(e) ?? '');
        if (attempt >= RUN_STATEMENT_ATTEMPTS || !conflict) throw e;
        for (const listener of this.retryListeners) listener(conflict);
        await new Promise((r) => setTimeout(r, 10 + Math.random() * 50));
      }
    }
  }

  private readonly retryListeners: Array<(conflict: RunConflict) => void> = [];

  /** Told of each run statement sent again after a conflict (metrics count them: `mxwatch_check_runs_store_retries_total`). */
  onConflictRetry(listener: (conflict: RunConflict) => void): void {
    this.retryListeners.push(listener);
  }

  private async insertRun(run: CheckRun, input: { finishedAt: Date; nextCheckAt: Date | null }, stored: StoredResult[], trustCache: boolean): Promise<{ run: StoredRun; baseline: RunBaseline }> {
    const { facts } = run;
    // Host-level results not yet known to be stored go in with the run, in the same statement.
    // `ON CONFLICT DO UPDATE` (of nothing) rather than DO NOTHING: it returns the id of a row
    // another worker stored a moment ago too, which the statement's snapshot could not see (a
    // statement of its own before the run's, as it was, cost one more round trip and commit for
    // every check that brought a new host result; on workers, for every result one got from the
    // other through Redis). Once each, in digest order: two runs bringing the same new results in
    // opposite orders (two domains listing the same MX pair the other way round) each locked one
    // and waited for the other's, a deadlock PostgreSQL ended by failing one run. The update sets
    // a column no unique index holds (`probe`, the same value: the digest covers it), so the row
    // is taken FOR NO KEY UPDATE, which the reference check of a run that trusted the row as
    // stored (a KEY SHARE lock) does not wait for; setting `digest` took it FOR UPDATE, and that
    // run waited while it held a new row the upserting run needed: a deadlock too.
    const byDigest = new Map<string, StoredResult>();
    for (const r of stored) if (r.digest !== undefined && !(trustCache && this.storedDigests.has(r.digest))) byDigest.set(r.digest, r);
    const fresh = [...byDigest.values()].sort((a, b) => (a.digest! < b.digest! ? -1 : a.digest! > b.digest! ? 1 : 0));
    // JSON.stringify keeps Dates inside details as ISO strings, as the JSON column always had them.
    const rows = JSON.stringify(stored.map((r) => (r.digest === undefined ? r : { ...r, details: null })));
    // The results' ids come back as text (a bigint in JSON would lose digits), in result order:
    // the INSERT takes ids in that order. The rows themselves are what was sent, not read back.
    const found = await this.db.sql<BaselineRow>(Prisma.sql`
      WITH "hosts" AS (
        INSERT INTO "HostResult" ("digest", "probe", "target", "status", "reason", "startedAt", "durationMs", "details")
        SELECT h.v->>'digest', h.v->>'probe', h.v->>'target', h.v->>'status', h.v->>'reason',
               (h.v->>'startedAt')::timestamp(3), (h.v->>'durationMs')::int, h.v->'details'
          FROM jsonb_array_elements(${JSON.stringify(fresh)}::jsonb) WITH ORDINALITY AS h(v, n)
         ORDER BY h.n
        ON CONFLICT ("digest") DO UPDATE SET "probe" = EXCLUDED."probe"
        RETURNING "id", "digest"
      ), "run" AS (
        INSERT INTO "CheckRun" ("id", "domainId", "trigger", "status", "startedAt", "finishedAt", "durationMs", "idempotencyKey", "facts")
        VALUES (${run.id}::uuid, ${run.domainId}::uuid, ${run.trigger}, ${run.status}, ${run.startedAt}, ${run.finishedAt}, ${run.durationMs}, ${run.idempotencyKey}, ${facts}::text[])
      ), "schedule" AS (
        UPDATE "Domain" SET "lastCheckAt" = ${input.finishedAt}, "nextCheckAt" = COALESCE(${input.nextCheckAt}, "nextCheckAt"), "updatedAt" = ${new Date()},
               -- The queued slot's run is stored: nothing left for the queue's recovery pass (the key is
               -- the slot's job id, runtime/queue/check-jobs.ts scheduledJobId: s-<domain id>-<slot in ms>).
               "queuedSlot" = CASE WHEN ${run.idempotencyKey}::text = 's-' || "id"::text || '-' || (EXTRACT(EPOCH FROM "queuedSlot") * 1000)::bigint::text THEN NULL ELSE "queuedSlot" END
         WHERE "id" = ${run.domainId}::uuid
      ), "results" AS (
        INSERT INTO "ProbeResult" ("runId", "domainId", "probe", "target", "status", "reason", "startedAt", "durationMs", "details", "hostResultId")
        SELECT ${run.id}::uuid, ${run.domainId}::uuid, r.v->>'probe', r.v->>'target', r.v->>'status', r.v->>'reason',
               (r.v->>'startedAt')::timestamp(3), (r.v->>'durationMs')::int,
               CASE WHEN r.v ? 'digest' THEN NULL ELSE r.v->'details' END,
               CASE WHEN r.v ? 'digest' THEN COALESCE((SELECT h."id" FROM "hosts" h WHERE h."digest" = r.v->>'digest'), (SELECT h."id" FROM "HostResult" h WHERE h."digest" = r.v->>'digest')) END
          FROM jsonb_array_elements(${rows}::jsonb) WITH ORDINALITY AS r(v, n)
         ORDER BY r.n
        RETURNING "id", "hostResultId"
      )
      ${baselineSelect(run.domainId, Prisma.sql`SELECT COALESCE(jsonb_agg(jsonb_build_array("id"::text, "hostResultId"::text) ORDER BY "id"), '[]'::jsonb) FROM "results"`)}`);
    const ids = (found[0]!.extra ?? []) as Array<[string, string | null]>;
    if (this.storedDigests.size + fresh.length > STORED_DIGESTS_MAX) this.storedDigests.clear();
    for (const r of fresh) this.storedDigests.add(r.digest!);
    const results = stored.map((r, i): ProbeResultRow => ({
      id: BigInt(ids[i]![0]),
      runId: run.id,
      domainId: run.domainId,
      probe: r.probe,
      target: r.target,
      status: r.status,
      reason: r.reason,
      startedAt: fromSqlTimestamp(r.startedAt),
      durationMs: r.durationMs,
      details: (r.details ?? {}) as Prisma.JsonValue,
      hostResultId: ids[i]![1] === null ? null : BigInt(ids[i]![1]),
    }));
    return { run: { ...run, results }, baseline: baselineFromRows(run.domainId, found) };
  }

  /** Digests of host-level results this process stored: the next run that used one sends only its digest. */
  private readonly storedDigests = new Set<string>();
  /** A shared result object (the same SMTP session for every domain on that MX) is digested once. */
  private readonly digestOf = new WeakMap<ProbeResult, StoredResult>();

  /**
   * A result as stored. toStorable: a NUL from the network (legal in a DNS label) would make
   * PostgreSQL refuse the whole run.
   */
  private toStored(r: ProbeResult): StoredResult {
    const known = this.digestOf.get(r);
    if (known) return known;
    const clean = toStorable({ probe: r.probe, target: r.target, status: r.status, reason: r.reason ?? null, details: { ...r.details, observations: r.observations } });
    const row: StoredResult = {
      probe: clean.probe,
      target: clean.target,
      status: clean.status,
      reason: clean.reason,
      startedAt: sqlTimestamp(r.startedAt),
      durationMs: Math.round(r.durationMs),
      details: clean.details,
    };
    const def = probeByName(r.probe);
    if (def !== undefined && (def.hostLevel ? def.hostLevel(r) : def.scope !== 'domain')) {
      row.digest = createHash('sha256').update(JSON.stringify([row.probe, row.target, row.status, row.reason, row.startedAt, row.durationMs, row.details])).digest('base64url');
    }
    this.digestOf.set(r, row);
    return row;
  }

  /** The run a queued check stored under its job id, if it did. */
  async runIdByKey(idempotencyKey: string): Promise<string | null> {
    const run = await this.db.prisma.checkRun.findUnique({ where: { idempotencyKey }, select: { id: true } });
    return run?.id ?? null;
  }

  latestRun(domainId: string): Promise<StoredRun | null> {
    return readLatestRun(this.db.prisma, domainId);
  }

  /**
   * Runs with their results in result order, host-level details joined in: what a replica that did
   * not run the checks reads (the metrics feed), every second during a cycle. Unknown ids are
   * skipped. One statement for the runs, their results as one JSON array each, and one for the
   * host-level details this process does not hold yet: a HostResult never changes, and the same
   * one (an MX's SMTP session) is referenced by every domain on that MX. Through Prisma's
   * `include` this cost ~1 ms of CPU per run in the api (bench/README.md).
   */
  async runsWithResults(runIds: readonly string[]): Promise<Array<CheckRun & { results: ProbeResultRow[] }>> {
    if (runIds.length === 0) return [];
    const runs = await this.db.sql<CheckRun & { results: ResultTuple[] }>(Prisma.sql`
      SELECT r."id"::text AS "id", r."domainId"::text AS "domainId", r."trigger", r."status", r."startedAt", r."finishedAt",
             r."durationMs", r."idempotencyKey", r."facts",
             COALESCE((SELECT json_agg(json_build_array(p."id"::text, p."probe", p."target", p."status", p."reason", p."startedAt",
                                                        p."durationMs", p."details", p."hostResultId"::text) ORDER BY p."id")
                         FROM "ProbeResult" p WHERE p."runId" = r."id"), '[]'::json) AS "results"
        FROM "CheckRun" r
       WHERE r."id" = ANY(${[...runIds]}::text[]::uuid[])`);
    const host = await this.hostDetailsFor(runs.flatMap((run) => run.results.map((t) => t[8]).filter((id): id is string => id !== null)));
    return runs.map(({ results, ...run }) => ({
      ...run,
      results: results.map(([id, probe, target, status, reason, startedAt, durationMs, details, hostResultId]): ProbeResultRow => ({
        id: BigInt(id),
        runId: run.id,
        domainId: run.domainId,
        probe,
        target,
        status,
        reason,
        startedAt: fromSqlTimestamp(startedAt),
        durationMs,
        // A referenced HostResult cannot be deleted (ON DELETE RESTRICT); {} only if retention
        // pruned the run and its HostResult between the two statements.
        details: hostResultId === null ? (details ?? {}) : (host.get(hostResultId) ?? {}),
        hostResultId: hostResultId === null ? null : BigInt(hostResultId),
      })),
    }));
  }

  /** Host-level details read lately, by HostResult id, least recently used first: a HostResult is never updated. */
  private readonly hostDetails = new Map<string, Prisma.JsonValue>();
  /** How many `hostDetails` holds at most (tests lower it). */
  hostDetailsLimit = HOST_DETAILS_MAX;

  /** The details of these HostResults: from those held, the rest in one statement. */
  private async hostDetailsFor(ids: string[]): Promise<Map<string, Prisma.JsonValue>> {
    const found = new Map<string, Prisma.JsonValue>();
    const missing: string[] = [];
    for (const id of ids) {
      if (found.has(id)) continue;
      const held = this.hostDetails.get(id);
      if (held === undefined) {
        missing.push(id);
        continue;
      }
      found.set(id, held);
      this.hostDetails.delete(id);
      this.hostDetails.set(id, held);
    }
    if (missing.length === 0) return found;
    const rows = await this.db.sql<{ id: string; details: Prisma.JsonValue }>(Prisma.sql`
      SELECT "id"::text AS "id", "details" FROM "HostResult" WHERE "id" = ANY(${[...new Set(missing)]}::text[]::bigint[])`);
    for (const row of rows) {
      found.set(row.id, row.details);
      this.hostDetails.set(row.id, row.details);
    }
    for (const id of this.hostDetails.keys()) {
      if (this.hostDetails.size <= this.hostDetailsLimit) break;
      this.hostDetails.delete(id);
    }
    return found;
  }

  /** Newest first, keyset-paginated on (startedAt, id) so pages stay stable while rows are inserted. */
  async history(q: HistoryQuery): Promise<ProbeResultRow[]> {
    const where: Prisma.ProbeResultWhereInput = { domainId: q.domainId };
    if (q.probe) where.probe = q.probe;
    if (q.status) where.status = q.status;
    if (q.since || q.until) where.startedAt = { ...(q.since ? { gte: q.since } : {}), ...(q.until ? { lt: q.until } : {}) };
    const and: Prisma.ProbeResultWhereInput[] = [where];
    if (q.after) {
      and.push({ OR: [{ startedAt: { lt: q.after.startedAt } }, { startedAt: q.after.startedAt, id: { lt: q.after.id } }] });
    }
    const rows = await this.db.prisma.probeResult.findMany({
      where: { AND: and },
      orderBy: [{ startedAt: 'desc' }, { id: 'desc' }],
      take: q.limit,
      include: WITH_HOST_DETAILS,
    });
    return rows.map(joinHostDetails);
  }

  /**
   * Deletes runs older than `before` in batches, then host-level results older than that which no
   * run references any more; returns how many rows went (0: nothing left to prune).
   */
  async pruneBatch(before: Date, batchSize: number): Promise<number> {
    const old = await this.db.prisma.checkRun.findMany({ where: { startedAt: { lt: before } }, select: { id: true }, take: batchSize });
    if (old.length > 0) {
      await this.db.prisma.checkRun.deleteMany({ where: { id: { in: old.map((r) => r.id) } } });
      return old.length;
    }
    return this.db.prisma.$executeRaw`
      DELETE FROM "HostResult" WHERE "id" IN (
        SELECT h."id" FROM "HostResult" h
         WHERE h."startedAt" < ${before}
           AND NOT EXISTS (SELECT 1 FROM "ProbeResult" p WHERE p."hostResultId" = h."id")
         LIMIT ${batchSize})`;
  }
}
