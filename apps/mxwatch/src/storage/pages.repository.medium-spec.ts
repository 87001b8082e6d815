import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { databaseBackends } from '../../../../test/support/database-backends.js';
import { DatabaseService } from '../database/database.service.js';
import type { Database } from '../database/open-database.js';
import { PagesRepository } from './pages.repository.js';

const backends = databaseBackends('mxwatch_pages_repo');

const T0 = new Date('2026-06-01T00:00:00.000Z');
const DAY = 86_400_000;

/** Medium tier: the real repository on a real database. */
describe.each(backends)(`${PagesRepository.name} on $name`, (backend) => {
  let database: Database;
  let close: () => Promise<void>;
  let repo: PagesRepository;

  beforeAll(async () => {
    ({ database, close } = await backend.open());
    repo = new PagesRepository(DatabaseService.over(database));
  });

  afterAll(async () => {
    await close?.();
  });

  beforeEach(async () => {
    await database.prisma.domain.deleteMany();
  });

  async function domain(name: string, labels: Record<string, string> = {}, findings: Array<[severity: string, status?: string]> = []) {
    const d = await database.prisma.domain.create({ data: { name, labels } });
    for (const [i, [severity, status]] of findings.entries()) {
      await database.prisma.finding.create({
        data: {
          domainId: d.id, code: `CODE_${i}`, severity, probe: 'mx', target: name, message: 'm', remediation: 'r',
          status: status ?? 'open', firstSeenAt: T0, lastSeenAt: T0, openedAt: status === 'pending' ? null : T0,
          resolvedAt: status === 'resolved' ? new Date(T0.getTime() + DAY) : null,
        },
      });
    }
    return d;
  }

  async function run(domainId: string, startedAt: Date, status: string, results: Array<[probe: string, status: string]> = []) {
    const r = await database.prisma.checkRun.create({ data: { domainId, trigger: 'schedule', status, startedAt, finishedAt: startedAt, durationMs: 1 } });
    for (const [probe, s] of results) {
      await database.prisma.probeResult.create({ data: { runId: r.id, domainId, probe, target: 't', status: s, startedAt, durationMs: 1, details: {} } });
    }
    return r;
  }

  it('should rank domains worst first with their open counts, ignoring pending and resolved findings', async () => {
    await domain('ok.test');
    await domain('warn.test', {}, [['warning'], ['info'], ['critical', 'pending']]);
    await domain('crit.test', {}, [['critical'], ['warning'], ['warning']]);
    await domain('crit2.test', {}, [['critical'], ['critical', 'resolved']]);
    await domain('info.test', {}, [['info']]);
    const page = await repo.fleet({ limit: 50, offset: 0 });
    expect(page.rows.map((r) => [r.name, r.worst, r.critical, r.warning, r.info])).toEqual([
      ['crit.test', 'critical', 1, 2, 0],
      ['crit2.test', 'critical', 1, 0, 0],
      ['warn.test', 'warning', 0, 1, 1],
      ['info.test', 'info', 0, 0, 1],
      ['ok.test', 'ok', 0, 0, 0],
    ]);
    expect(page.total).toBe(5);
    expect(page.bySeverity).toEqual({ critical: 2, warning: 1, info: 1, ok: 1 });
  });

  it('should filter by text, label and worst severity, and keep the per-severity counts of the text and label filters', async () => {
    await domain('a-prod.test', { env: 'prod' }, [['critical']]);
    await domain('b-prod.test', { env: 'prod' });
    await domain('c-dev.test', { env: 'dev' }, [['critical']]);
    await domain('under_score.test', { team: 'x' });
    expect((await repo.fleet({ text: 'PROD', limit: 50, offset: 0 })).rows.map((r) => r.name)).toEqual(['a-prod.test', 'b-prod.test']);
    // "_" is a literal, not ILIKE's any-character.
    expect((await repo.fleet({ text: 'r_s', limit: 50, offset: 0 })).rows.map((r) => r.name)).toEqual(['under_score.test']);
    expect((await repo.fleet({ text: 'o-p', limit: 50, offset: 0 })).rows).toEqual([]);
    expect((await repo.fleet({ label: { key: 'env', value: 'prod' }, limit: 50, offset: 0 })).rows.map((r) => r.name)).toEqual(['a-prod.test', 'b-prod.test']);
    expect((await repo.fleet({ label: { key: 'team' }, limit: 50, offset: 0 })).rows.map((r) => r.name)).toEqual(['under_score.test']);
    const crit = await repo.fleet({ label: { key: 'env', value: 'prod' }, severity: 'critical', limit: 50, offset: 0 });
    expect(crit.rows.map((r) => r.name)).toEqual(['a-prod.test']);
    expect(crit.total).toBe(1);
    expect(crit.bySeverity).toEqual({ critical: 1, warning: 0, info: 0, ok: 1 });
    expect((await repo.fleet({ severity: 'ok', limit: 50, offset: 0 })).rows.map((r) => r.name)).toEqual(['b-prod.test', 'under_score.test']);
  });

  it('should page through the ranking and still count a page past the end', async () => {
    for (let i = 0; i < 7; i++) await domain(`d${i}.test`, {}, i < 2 ? [['warning']] : []);
    const p1 = await repo.fleet({ limit: 3, offset: 0 });
    const p3 = await repo.fleet({ limit: 3, offset: 6 });
    expect(p1.rows.map((r) => r.name)).toEqual(['d0.test', 'd1.test', 'd2.test']);
    expect(p3.rows.map((r) => r.name)).toEqual(['d6.test']);
    const past = await repo.fleet({ limit: 3, offset: 30 });
    expect(past.rows).toEqual([]);
    expect(past.total).toBe(7);
    expect(past.bySeverity).toEqual({ critical: 0, warning: 2, info: 0, ok: 5 });
  });

  it("should give each row its latest run's status", async () => {
    const d = await domain('runs.test');
    await run(d.id, new Date(T0.getTime() + 1000), 'fail');
    await run(d.id, new Date(T0.getTime() + 2000), 'pass');
    await domain('never.test');
    const page = await repo.fleet({ limit: 50, offset: 0 });
    expect(page.rows.map((r) => [r.name, r.lastStatus])).toEqual([
      ['never.test', null],
      ['runs.test', 'pass'],
    ]);
  });

  it('should list what opened and resolved since a time, newest first', async () => {
    await domain('r.test', {}, [['critical', 'resolved'], ['warning']]);
    const events = await repo.recent(new Date(T0.getTime() - 1), 10);
    expect(events.map((e) => [e.event, e.domain, e.code, e.at.toISOString()])).toEqual([
      ['resolved', 'r.test', 'CODE_0', new Date(T0.getTime() + DAY).toISOString()],
      ['opened', 'r.test', 'CODE_0', T0.toISOString()],
      ['opened', 'r.test', 'CODE_1', T0.toISOString()],
    ]);
    expect(await repo.recent(new Date(T0.getTime() + 2 * DAY), 10)).toEqual([]);
  });

  it('should count results per probe and day bucket, leaving out what falls outside the window', async () => {
    const d = await domain('tl.test');
    await run(d.id, new Date(T0.getTime() - 1), 'fail', [['mx', 'fail']]);
    await run(d.id, new Date(T0.getTime() + 10), 'pass', [['mx', 'pass'], ['smtp', 'pass'], ['smtp', 'untestable']]);
    await run(d.id, new Date(T0.getTime() + 2 * DAY + 5), 'warn', [['mx', 'warn'], ['smtp', 'fail']]);
    await run(d.id, new Date(T0.getTime() + 3 * DAY), 'pass', [['mx', 'pass']]);
    const cells = await repo.timeline(d.id, T0, DAY, 3);
    expect(cells).toEqual([
      { probe: 'mx', bucket: 0, pass: 1, warn: 0, fail: 0, untestable: 0 },
      { probe: 'mx', bucket: 2, pass: 0, warn: 1, fail: 0, untestable: 0 },
      { probe: 'smtp', bucket: 0, pass: 1, warn: 0, fail: 0, untestable: 1 },
      { probe: 'smtp', bucket: 2, pass: 0, warn: 0, fail: 1, untestable: 0 },
    ]);
  });

  it("should read a domain's policy changes newest first, and only its own", async () => {
    const d = await domain('chg.test');
    const other = await domain('other.test');
    const change = (domainId: string, kind: string, at: Date, weakening: boolean) =>
      database.prisma.$executeRaw`INSERT INTO "PolicyChange" ("domainId", "probe", "kind", "weakening", "text", "observedAt") VALUES (${domainId}::uuid, ${kind.split('.')[0]}, ${kind}, ${weakening}, ${`text of ${kind}`}, ${at})`;
    await change(d.id, 'dmarc.policy_lowered', T0, true);
    await change(d.id, 'mx.host_added', new Date(T0.getTime() + DAY), false);
    await change(other.id, 'spf.all_loosened', new Date(T0.getTime() + 2 * DAY), true);
    expect((await repo.changes(d.id, 10)).map((c) => [c.kind, c.weakening, c.text, c.observedAt.toISOString()])).toEqual([
      ['mx.host_added', false, 'text of mx.host_added', new Date(T0.getTime() + DAY).toISOString()],
      ['dmarc.policy_lowered', true, 'text of dmarc.policy_lowered', T0.toISOString()],
    ]);
    expect(await repo.changes(d.id, 1)).toHaveLength(1);
  });

  it('should read the latest run with its results and the open findings of one domain', async () => {
    const d = await domain('one.test', {}, [['warning'], ['critical'], ['info', 'resolved']]);
    await run(d.id, T0, 'pass', [['mx', 'pass']]);
    await run(d.id, new Date(T0.getTime() + 1000), 'fail', [['mx', 'pass'], ['smtp', 'fail']]);
    expect((await repo.domain('one.test'))?.id).toBe(d.id);
    expect(await repo.domain('none.test')).toBeNull();
    const latest = await repo.latestRun(d.id);
    expect(latest?.status).toBe('fail');
    expect(latest?.results.map((r) => r.probe)).toEqual(['mx', 'smtp']);
    expect((await repo.openFindings(d.id)).map((f) => f.severity)).toEqual(['critical', 'warning']);
  });
});
