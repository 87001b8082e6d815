/**
 * Scheduled checks, Prometheus metrics and the history API, end to end: the BUILT service on
 * PostgreSQL against the fake internet (DoH resolver, DNSBLs, mail servers on 127.x addresses).
 */
import { spawnSync } from 'node:child_process';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startApp, type RunningApp } from '../support/app-process.js';
import { CORE_PROBES, createFakeInternet, type FakeInternet } from '../support/fake-internet.js';
import { createTestDatabase } from '../support/postgres.js';
import { findSamples, parseMetrics, type MetricSample } from '../support/metrics-text.js';
import { sleep, waitFor } from '../support/wait-for.js';

const ZEN = 'zen.spamhaus.org';
const DBL = 'dbl.spamhaus.org';
/** A list that refuses every query, as Spamhaus does for queries through public resolvers. */
const REFUSING = 'bl.refusing.test';

type Sample = MetricSample;
const find = findSamples;

describe('scheduled checks, metrics and history on PostgreSQL', () => {
  let net: FakeInternet;
  let db: Awaited<ReturnType<typeof createTestDatabase>>;
  let env: Record<string, string>;
  let app: RunningApp;
  let mx1Ip: string;
  let mx2Ip: string;
  let soloIp: string;

  const scrape = async () => {
    const r = await fetch(`${app.baseUrl}/metrics`);
    expect(r.status).toBe(200);
    return r.text();
  };
  const metrics = async () => parseMetrics(await scrape());
  const domain = async (name: string) => (await app.api('GET', `/api/v1/domains/${name}`)).body;
  const history = async (name: string, query: Record<string, string | number>) => {
    const qs = new URLSearchParams(Object.entries(query).map(([k, v]): [string, string] => [k, String(v)])).toString();
    return app.api('GET', `/api/v1/domains/${name}/checks${qs ? `?${qs}` : ''}`);
  };
  const checkNow = async (name: string) => {
    const r = await app.api('POST', `/api/v1/domains/${name}/check`);
    expect(r.status, r.text).toBe(200);
    return r.body;
  };
  const promtool = (text: string) => {
    const r = spawnSync('promtool', ['check', 'metrics'], { input: text, encoding: 'utf8' });
    return { status: r.status, output: `${r.stdout}${r.stderr}`.trim() };
  };

  beforeAll(async () => {
    [net, db] = await Promise.all([createFakeInternet({ dnsblZones: [{ zone: ZEN, kind: 'ip' }, { zone: DBL, kind: 'domain' }] }), createTestDatabase('mxwatch_sched')]);
    // Excessive queries: a refusal that proves nothing about our resolver, so one finding per domain
    // (the "public resolver" code 127.255.255.254 would be one finding about mxwatch itself).
    net.dnsbl(REFUSING, 'ip').refuseEverything('127.255.255.255');
    const shared = await net.addMailDomain('alpha.test', {
      mx: [
        { host: 'mx1.shared.test', pref: 10 },
        { host: 'mx2.shared.test', pref: 20 },
      ],
    });
    [mx1Ip, mx2Ip] = shared.mx.map((h) => h.ip!) as [string, string];
    // beta.test shares mx1 with alpha.test: one provider, several domains.
    net.dns.setRecords('beta.test', 'MX', [{ preference: 10, exchange: 'mx1.shared.test' }]);
    const solo = await net.addMailDomain('solo.test', { mx: [{ host: 'mx.solo.test', behaviour25: 'no-starttls' }] });
    soloIp = solo.mx[0]!.ip!;
    net.dnsbl(ZEN).listIp(soloIp, { codes: ['127.0.0.4'], txt: 'XBL listed' });

    env = {
      ...net.env,
      DATABASE_URL: db.url,
      MXWATCH_DNSBL_ZONES: net.zonesEnv([
        { zone: ZEN, kind: 'ip' },
        { zone: DBL, kind: 'domain' },
        { zone: REFUSING, kind: 'ip' },
      ]),
      MXWATCH_PROBES: CORE_PROBES,
      MXWATCH_SCHEDULER: 'true',
      MXWATCH_SCHEDULER_TICK: '1',
      // Long enough that nothing is re-checked on schedule during the suite: every re-check is ours.
      MXWATCH_CHECK_INTERVAL: '600',
      MXWATCH_LOG_LEVEL: 'info',
    };
    app = await startApp(env);
  });

  afterAll(async () => {
    await app?.stop();
    await net?.close();
    await db?.drop();
  });

  it('should check a domain added over REST on schedule, without any manual trigger', async () => {
    for (const name of ['alpha.test', 'beta.test', 'solo.test']) {
      const r = await app.api('POST', '/api/v1/domains', { name });
      expect(r.status, r.text).toBe(201);
      // An API domain is due within seconds, not after a whole interval.
      expect(Date.parse(r.body.nextCheckAt) - Date.now()).toBeLessThanOrEqual(5_000);
    }
    const checked = await waitFor('the scheduler to check the three domains', async () => {
      const list = (await app.api('GET', '/api/v1/domains')).body as Array<{ name: string; lastCheckAt: string | null }>;
      return list.length === 3 && list.every((d) => d.lastCheckAt) ? list : null;
    });
    expect(checked.map((d) => d.name).sort()).toEqual(['alpha.test', 'beta.test', 'solo.test']);

    for (const name of ['alpha.test', 'beta.test', 'solo.test']) {
      const status = (await app.api('GET', `/api/v1/domains/${name}/status`)).body;
      expect(status.lastRun.trigger).toBe('schedule');
      const d = await domain(name);
      // Claimed one interval ahead: the next scheduled check is ~600 s away.
      expect(Date.parse(d.nextCheckAt) - Date.parse(d.lastCheckAt)).toBeGreaterThan(590_000);
    }

    const h = await history('alpha.test', { limit: '500' });
    expect(h.status).toBe(200);
    // The core probes, and spf: the DNSBL probe also asks about the addresses SPF authorises.
    expect(new Set(h.body.items.map((i: { probe: string }) => i.probe))).toEqual(new Set(['mx', 'smtp', 'starttls', 'spf', 'dnsbl']));
    expect(h.body.items.find((i: { probe: string; target: string }) => i.probe === 'starttls' && i.target.startsWith('mx1.shared.test'))).toMatchObject({ status: 'pass' });
  });

  it('should export what the checks found on /metrics, in a format promtool accepts', async () => {
    const text = await scrape();
    const s = parseMetrics(text);
    const host1 = { host: 'mx1.shared.test', ip: mx1Ip, port: '25' };
    const host2 = { host: 'mx2.shared.test', ip: mx2Ip, port: '25' };
    const soloHost = { host: 'mx.solo.test', ip: soloIp, port: '25' };

    for (const probe of ['mx', 'smtp', 'starttls']) expect(find(s, 'mxwatch_probe_success', { domain: 'alpha.test', probe })[0]?.value, probe).toBe(1);
    expect(find(s, 'mxwatch_probe_success', { domain: 'solo.test', probe: 'starttls' })[0]?.value).toBe(0);
    expect(find(s, 'mxwatch_probe_success', { domain: 'solo.test', probe: 'dnsbl' })[0]?.value).toBe(0);
    for (const d of ['alpha.test', 'beta.test', 'solo.test']) {
      const last = find(s, 'mxwatch_last_check_timestamp_seconds', { domain: d });
      expect(last).toHaveLength(1);
      expect(Math.abs(last[0]!.value - Date.now() / 1000)).toBeLessThan(120);
    }
    expect(find(s, 'mxwatch_domain_mx_info').map((x) => x.labels).sort((a, b) => `${a.domain}${a.mx}`.localeCompare(`${b.domain}${b.mx}`))).toEqual([
      { domain: 'alpha.test', mx: 'mx1.shared.test', preference: '10' },
      { domain: 'alpha.test', mx: 'mx2.shared.test', preference: '20' },
      { domain: 'beta.test', mx: 'mx1.shared.test', preference: '10' },
      { domain: 'solo.test', mx: 'mx.solo.test', preference: '10' },
    ]);
    expect(find(s, 'mxwatch_mx_records', { domain: 'alpha.test' })[0]?.value).toBe(2);
    expect(find(s, 'mxwatch_mx_records', { domain: 'beta.test' })[0]?.value).toBe(1);

    // Per-host series: one per host/ip/port, however many domains use the host.
    expect(find(s, 'mxwatch_smtp_port_open', host1)).toEqual([expect.objectContaining({ value: 1 })]);
    // 587 closed on a host that is only an MX is not required: no series (and no stored result).
    expect(find(s, 'mxwatch_smtp_port_open', { ...host1, port: '587' })).toEqual([]);
    expect(find(s, 'mxwatch_smtp_port_open', host2)[0]?.value).toBe(1);
    expect(find(s, 'mxwatch_starttls_supported', host1)[0]?.value).toBe(1);
    expect(find(s, 'mxwatch_starttls_supported', soloHost)[0]?.value).toBe(0);
    const notAfter = find(s, 'mxwatch_tls_cert_not_after_timestamp_seconds', host1);
    expect(notAfter).toHaveLength(1);
    expect(notAfter[0]!.value).toBeGreaterThan(Date.now() / 1000 + 300 * 86400);
    expect(find(s, 'mxwatch_tls_version_info', host1)).toEqual([expect.objectContaining({ labels: { ...host1, version: 'TLSv1.3' }, value: 1 })]);
    expect(find(s, 'mxwatch_tls_version_info', soloHost)).toEqual([]);
    expect(find(s, 'mxwatch_tls_cert_not_after_timestamp_seconds', soloHost)).toEqual([]);

    expect(find(s, 'mxwatch_dnsbl_listed', { ip: soloIp, zone: ZEN })[0]?.value).toBe(1);
    expect(find(s, 'mxwatch_dnsbl_listed', { ip: mx1Ip, zone: ZEN })[0]?.value).toBe(0);
    expect(find(s, 'mxwatch_dnsbl_listed', { ip: 'alpha.test', zone: DBL })[0]?.value).toBe(0);
    // A list that refuses us is not a listing: no listed series, an error counted under the documented reason.
    expect(find(s, 'mxwatch_dnsbl_listed', { zone: REFUSING })).toEqual([]);
    expect(find(s, 'mxwatch_dnsbl_errors_total', { zone: REFUSING, reason: 'rate_limited' })[0]?.value).toBeGreaterThan(0);

    expect(find(s, 'mxwatch_findings_open', { severity: 'critical', code: 'STARTTLS_NOT_OFFERED' })[0]?.value).toBe(1);
    expect(find(s, 'mxwatch_findings_open', { severity: 'critical', code: 'DNSBL_LISTED' })[0]?.value).toBe(1);
    expect(find(s, 'mxwatch_domain_findings_open', { domain: 'solo.test', severity: 'critical' })[0]?.value).toBe(2);
    expect(find(s, 'mxwatch_domain_findings_open', { domain: 'alpha.test', severity: 'critical' })).toEqual([]);
    expect(find(s, 'mxwatch_check_runs_total', { trigger: 'schedule' }).reduce((a, x) => a + x.value, 0)).toBe(3);

    expect(promtool(text)).toEqual({ status: 0, output: '' });
  });

  it('should page through history newest first without duplicates or gaps while runs are inserted', async () => {
    for (let i = 0; i < 3; i++) await checkNow('alpha.test');
    const all = (await history('alpha.test', { limit: 500 })).body.items as Array<{ id: string; probe: string; status: string; startedAt: string }>;
    expect(all.length).toBeGreaterThanOrEqual(4 * 10);
    for (let i = 1; i < all.length; i++) {
      const [a, b] = [all[i - 1]!, all[i]!];
      const newerOrTie = Date.parse(a.startedAt) > Date.parse(b.startedAt) || (a.startedAt === b.startedAt && BigInt(a.id) > BigInt(b.id));
      expect(newerOrTie, `${a.id} before ${b.id}`).toBe(true);
    }

    const seen: string[] = [];
    let cursor: string | null = null;
    let pages = 0;
    do {
      const r = await history('alpha.test', { limit: 9, ...(cursor ? { cursor } : {}) });
      expect(r.status, r.text).toBe(200);
      expect(r.body.items.length).toBeLessThanOrEqual(9);
      seen.push(...r.body.items.map((i: { id: string }) => i.id));
      cursor = r.body.nextCursor;
      pages++;
      // New runs land between page fetches; the pages already promised must not move.
      if (cursor) await checkNow('alpha.test');
    } while (cursor);
    expect(pages).toBe(Math.ceil(all.length / 9));
    expect(new Set(seen).size).toBe(seen.length);
    expect(seen).toEqual(all.map((i) => i.id));

    const after = (await history('alpha.test', { limit: 500 })).body.items as typeof all;
    expect(after.length).toBeGreaterThan(all.length);
    expect(after.slice(after.length - all.length).map((i) => i.id)).toEqual(all.map((i) => i.id));
  });

  it('should filter history by probe, status and time range, also across pages', async () => {
    const all = (await history('alpha.test', { limit: 500 })).body.items as Array<{ id: string; probe: string; status: string; startedAt: string }>;
    const ids = (items: Array<{ id: string }>) => items.map((i) => i.id);

    const smtp = (await history('alpha.test', { probe: 'smtp', limit: 500 })).body.items;
    expect(smtp.length).toBeGreaterThan(0);
    expect(ids(smtp)).toEqual(ids(all.filter((i) => i.probe === 'smtp')));

    const untestable = (await history('alpha.test', { status: 'untestable', limit: 500 })).body.items;
    expect(untestable.length).toBeGreaterThan(0);
    expect(ids(untestable)).toEqual(ids(all.filter((i) => i.status === 'untestable')));
    expect((await history('alpha.test', { probe: 'starttls', status: 'fail' })).body).toEqual({ items: [], nextCursor: null });
    const soloFails = (await history('solo.test', { status: 'fail', limit: 500 })).body.items as Array<{ probe: string }>;
    expect(new Set(soloFails.map((i) => i.probe))).toEqual(new Set(['starttls', 'dnsbl']));

    const since = all[Math.floor(all.length * 0.7)]!.startedAt;
    const until = all[Math.floor(all.length * 0.2)]!.startedAt;
    const inRange = all.filter((i) => Date.parse(i.startedAt) >= Date.parse(since) && Date.parse(i.startedAt) < Date.parse(until));
    expect(inRange.length).toBeGreaterThan(0);
    expect(ids((await history('alpha.test', { since, until, limit: 500 })).body.items)).toEqual(ids(inRange));
    expect(ids((await history('alpha.test', { since, limit: 500 })).body.items)).toEqual(ids(all.filter((i) => Date.parse(i.startedAt) >= Date.parse(since))));

    const paged: string[] = [];
    let cursor: string | null = null;
    do {
      const r = await history('alpha.test', { probe: 'smtp', since, until, limit: 2, ...(cursor ? { cursor } : {}) });
      expect(r.status, r.text).toBe(200);
      paged.push(...ids(r.body.items));
      cursor = r.body.nextCursor;
    } while (cursor);
    expect(paged).toEqual(ids(inRange.filter((i) => i.probe === 'smtp')));
  });

  it.each([
    ['a cursor that is not one', { cursor: 'bogus' }, /cursor/],
    ['a cursor with an id beyond bigint', { cursor: Buffer.from('2026-01-01T00:00:00.000Z|9999999999999999999').toString('base64url') }, /cursor/],
    ['an unknown probe', { probe: 'imap' }, /probe must be one of mx, smtp, starttls, dnsbl/],
    ['an unknown status', { status: 'broken' }, /status must be one of/],
    ['a date that is not one', { since: 'yesterday' }, /since must be an ISO 8601 date-time/],
    ['an impossible date', { until: '2026-13-45T00:00:00Z' }, /until must be an ISO 8601 date-time/],
    ['since equal to until', { since: '2026-01-01T00:00:00Z', until: '2026-01-01T00:00:00Z' }, /since must be before until/],
    ['since after until', { since: '2026-02-01T00:00:00Z', until: '2026-01-01T00:00:00Z' }, /since must be before until/],
    ['a limit of 0', { limit: 0 }, /limit/],
    ['a limit above 500', { limit: 501 }, /limit/],
    ['a limit that is not a number', { limit: 'ten' }, /limit/],
  ])('should answer 400 to %s', async (_what, query, message) => {
    const r = await history('alpha.test', query as Record<string, string>);
    expect(r.status, r.text).toBe(400);
    expect([r.body.message].flat().join('\n')).toMatch(message);
  });

  it('should answer 404 for the history of an unknown domain', async () => {
    expect((await history('nope.test', {})).status).toBe(404);
  });

  it('should filter findings by status, domain, severity and code', async () => {
    const get = async (q: string) => {
      const r = await app.api('GET', `/api/v1/findings${q}`);
      expect(r.status, r.text).toBe(200);
      return r.body as Array<{ domain: string; code: string; severity: string; status: string; target: string; resolvedAt: string | null }>;
    };
    const open = await get('?status=open');
    expect(open.every((f) => f.status === 'open')).toBe(true);
    expect(open.filter((f) => f.domain === 'solo.test').map((f) => f.code).sort()).toEqual(['DNSBL_LISTED', 'DNSBL_QUERY_REFUSED', 'STARTTLS_NOT_OFFERED']);

    const solo = await get('?domain=SOLO.test.');
    expect(solo.length).toBeGreaterThan(0);
    expect(solo.every((f) => f.domain === 'solo.test')).toBe(true);

    const critical = await get('?severity=critical');
    expect(critical.length).toBe(2);
    expect(critical.every((f) => f.severity === 'critical')).toBe(true);

    const refused = await get('?code=DNSBL_QUERY_REFUSED');
    expect(refused.map((f) => f.domain).sort()).toEqual(['alpha.test', 'beta.test', 'solo.test']);
    expect(refused.every((f) => f.severity === 'warning' && f.target === REFUSING)).toBe(true);
    expect(await get('?domain=alpha.test&severity=critical')).toEqual([]);
    expect((await get('?domain=solo.test&severity=critical&code=DNSBL_LISTED&status=open')).map((f) => f.target)).toEqual([`${soloIp}@${ZEN}`]);

    // Delisted: the next check resolves the finding (MXWATCH_ALERT_AFTER=1).
    expect(await get('?status=resolved')).toEqual([]);
    net.dnsbl(ZEN).unlist(soloIp);
    await checkNow('solo.test');
    const resolved = await get('?status=resolved');
    expect(resolved.map((f) => [f.domain, f.code])).toEqual([['solo.test', 'DNSBL_LISTED']]);
    expect(resolved[0]!.resolvedAt).not.toBeNull();
    expect((await get('?status=open&code=DNSBL_LISTED'))).toEqual([]);
    const s = await metrics();
    expect(find(s, 'mxwatch_findings_open', { code: 'DNSBL_LISTED' })).toEqual([]);
    expect(find(s, 'mxwatch_dnsbl_listed', { ip: soloIp, zone: ZEN })[0]?.value).toBe(0);
    expect(find(s, 'mxwatch_domain_findings_open', { domain: 'solo.test', severity: 'critical' })[0]?.value).toBe(1);
  });

  it.each([
    ['an unknown status', '?status=closed', /status must be one of open, resolved, pending|status must be/],
    ['an unknown severity', '?severity=major', /severity must be one of/],
    ['an unknown code', '?code=NOT_A_CODE', /code must be one of/],
    ['an invalid domain name', '?domain=not%20a%20domain', /domain/],
    ['a limit of 0', '?limit=0', /limit/],
  ])('should answer 400 to findings with %s', async (_what, q, message) => {
    const r = await app.api('GET', `/api/v1/findings${q}`);
    expect(r.status, r.text).toBe(400);
    expect([r.body.message].flat().join('\n')).toMatch(message);
  });

  it('should drop the series of a host that left the MX set at the next check', async () => {
    net.dns.setRecords('alpha.test', 'MX', [{ preference: 10, exchange: 'mx1.shared.test' }]);
    await checkNow('alpha.test');
    const s = await metrics();
    expect(find(s, 'mxwatch_domain_mx_info', { domain: 'alpha.test' }).map((x) => x.labels.mx)).toEqual(['mx1.shared.test']);
    expect(find(s, 'mxwatch_mx_records', { domain: 'alpha.test' })[0]?.value).toBe(1);
    for (const name of ['mxwatch_smtp_port_open', 'mxwatch_starttls_supported', 'mxwatch_tls_cert_not_after_timestamp_seconds', 'mxwatch_tls_version_info']) {
      expect(find(s, name, { host: 'mx2.shared.test' }), name).toEqual([]);
      expect(find(s, name, { host: 'mx1.shared.test', port: '25' }).length, name).toBe(1);
    }
    expect(find(s, 'mxwatch_dnsbl_listed', { ip: mx2Ip })).toEqual([]);
  });

  it('should remove a deleted domain, keeping shared host series until the last domain using them goes', async () => {
    const perDomain = ['mxwatch_probe_success', 'mxwatch_last_check_timestamp_seconds', 'mxwatch_domain_mx_info', 'mxwatch_mx_records', 'mxwatch_domain_findings_open'];
    const perHost = ['mxwatch_smtp_port_open', 'mxwatch_starttls_supported', 'mxwatch_tls_cert_not_after_timestamp_seconds', 'mxwatch_tls_version_info'];

    expect((await app.api('DELETE', '/api/v1/domains/beta.test')).status).toBe(204);
    let s = await metrics();
    for (const name of perDomain) expect(find(s, name, { domain: 'beta.test' }), name).toEqual([]);
    for (const name of perHost) expect(find(s, name, { host: 'mx1.shared.test', port: '25' }).length, name).toBe(1);
    expect(find(s, 'mxwatch_dnsbl_listed', { ip: mx1Ip, zone: ZEN })).toHaveLength(1);

    expect((await app.api('DELETE', '/api/v1/domains/alpha.test')).status).toBe(204);
    s = await metrics();
    for (const name of perDomain) expect(find(s, name, { domain: 'alpha.test' }), name).toEqual([]);
    for (const name of perHost) expect(find(s, name, { host: 'mx1.shared.test' }), name).toEqual([]);
    expect(find(s, 'mxwatch_dnsbl_listed', { ip: mx1Ip })).toEqual([]);
    expect(find(s, 'mxwatch_dnsbl_listed', { ip: 'alpha.test' })).toEqual([]);
    expect(find(s, 'mxwatch_findings_open', { code: 'DNSBL_QUERY_REFUSED' })[0]?.value).toBe(1);
    // The remaining domain is untouched.
    expect(find(s, 'mxwatch_last_check_timestamp_seconds', { domain: 'solo.test' })).toHaveLength(1);
    expect(find(s, 'mxwatch_smtp_port_open', { host: 'mx.solo.test', port: '25' })[0]?.value).toBe(1);
    expect(promtool(await scrape())).toEqual({ status: 0, output: '' });
  });

  it('should run the API without any scheduled check when MXWATCH_SCHEDULER=false', async () => {
    await app.stop();
    app = await startApp({ ...env, MXWATCH_SCHEDULER: 'false' });
    const created = await app.api('POST', '/api/v1/domains', { name: 'idle.test' });
    expect(created.status).toBe(201);
    net.dns.setRecords('idle.test', 'MX', [{ preference: 10, exchange: 'mx.solo.test' }]);
    // Long past the ≤5 s an API domain waits, and many MXWATCH_SCHEDULER_TICKs.
    await sleep(Math.max(0, Date.parse(created.body.nextCheckAt) - Date.now()) + 3_000);

    const idle = await domain('idle.test');
    expect(idle.lastCheckAt).toBeNull();
    expect(Date.parse(idle.nextCheckAt)).toBeLessThan(Date.now());
    expect((await history('idle.test', {})).body).toEqual({ items: [], nextCursor: null });
    const s = await metrics();
    expect(find(s, 'mxwatch_check_runs_total')).toEqual([]);
    expect(find(s, 'mxwatch_last_check_timestamp_seconds')).toEqual([]);
    expect(find(s, 'mxwatch_scheduler_lag_seconds')[0]?.value).toBe(0);
    expect(app.output()).not.toContain('scheduler started');
    // History from before the restart is still served.
    expect((await history('solo.test', { limit: 1 })).body.items).toHaveLength(1);
  });

  it('should forget the series of a disabled domain', async () => {
    expect((await app.api('POST', '/api/v1/domains', { name: 'gamma.test' })).status).toBe(201);
    net.dns.setRecords('gamma.test', 'MX', [{ preference: 10, exchange: 'mx.solo.test' }]);
    await checkNow('gamma.test');
    let s = await metrics();
    expect(find(s, 'mxwatch_last_check_timestamp_seconds', { domain: 'gamma.test' })).toHaveLength(1);
    expect(find(s, 'mxwatch_smtp_port_open', { host: 'mx.solo.test', port: '25' })).toHaveLength(1);

    expect((await app.api('PATCH', '/api/v1/domains/gamma.test', { enabled: false })).status).toBe(200);
    s = await metrics();
    for (const name of ['mxwatch_probe_success', 'mxwatch_last_check_timestamp_seconds', 'mxwatch_domain_mx_info', 'mxwatch_mx_records']) {
      expect(find(s, name, { domain: 'gamma.test' }), name).toEqual([]);
    }
    // No other domain was checked by this process: the host's series go with it.
    expect(find(s, 'mxwatch_smtp_port_open', { host: 'mx.solo.test' })).toEqual([]);
  });

  it('should not bring back the series of a domain disabled while its check was running', async () => {
    const slow = await net.addMailDomain('slow.test', { mx: [{ host: 'mx.slow.test', behaviour25: 'slow-banner', bannerDelayMs: 1000 }] });
    expect((await app.api('POST', '/api/v1/domains', { name: 'slow.test' })).status).toBe(201);
    const running = app.api('POST', '/api/v1/domains/slow.test/check');
    // Disabled once the check is under way: it is waiting for the slow banner.
    await waitFor('the check to reach the slow server', async () => net.connections(slow.ips[0]!)[25] > 0);
    expect((await app.api('PATCH', '/api/v1/domains/slow.test', { enabled: false })).status).toBe(200);
    expect((await running).status).toBe(200);

    const s = await metrics();
    for (const name of ['mxwatch_probe_success', 'mxwatch_last_check_timestamp_seconds', 'mxwatch_domain_mx_info', 'mxwatch_mx_records']) {
      expect(find(s, name, { domain: 'slow.test' }), name).toEqual([]);
    }
    expect(find(s, 'mxwatch_smtp_port_open', { host: 'mx.slow.test' })).toEqual([]);
  });

  it('should not re-check every domain at once after a restart: the persisted schedule decides', async () => {
    const before = await domain('solo.test');
    await app.stop();
    app = await startApp(env);
    expect(app.output()).toContain('scheduler started');
    // idle.test became due while no scheduler ran: it is checked right away.
    await waitFor('the overdue domain to be checked', async () => (await domain('idle.test')).lastCheckAt);
    await sleep(2_500);

    const after = await domain('solo.test');
    expect(after.lastCheckAt).toBe(before.lastCheckAt);
    expect(after.nextCheckAt).toBe(before.nextCheckAt);
    const s = await metrics();
    expect(find(s, 'mxwatch_check_runs_total', { trigger: 'schedule' }).reduce((a, x) => a + x.value, 0)).toBe(1);
    expect(find(s, 'mxwatch_last_check_timestamp_seconds').map((x) => x.labels.domain)).toEqual(['idle.test']);
    expect((await app.api('GET', '/api/v1/domains/idle.test/status')).body.lastRun.trigger).toBe('schedule');
    expect(promtool(await scrape())).toEqual({ status: 0, output: '' });
  });
});
