/**
 * The shipped Grafana dashboard and alert rules against a REAL Prometheus scraping the built
 * service, which checks domains on the fake internet: every dashboard query must parse and
 * return data, every rule expression must parse, the rules must load and evaluate cleanly, and
 * the mail and transport-security alerts must select the series of the broken domains.
 *
 * The service resolves through the real validating unbound of the DNSSEC rig (signed zones of its
 * own, every other `.test` name forwarded to the fake DNS) and fetches MTA-STS policies from the
 * fake policy server, as the transport-policies suite does, so the transport-security row has
 * MTA-STS, DNSSEC and DANE data; DNSBL lists are asked from the fake DNS directly.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { DnssecRig, type RigZone } from '../rig/dnssec/dnssec-rig.js';
import { FakePolicyServer } from '../rig/https/fake-policy-server.js';
import { CORE_PROBES, createFakeInternet, type FakeInternet, type MailDomain } from '../support/fake-internet.js';
import { freePort, removeDir, ROOT, startApp, tempDir, type RunningApp } from '../support/app-process.js';
import { type CheckRun, ofProbe } from '../support/check-run.js';
import { type OpenApiDocument, responseSchema, schemaGaps } from '../support/openapi-conformance.js';
import { createTestDatabase } from '../support/postgres.js';
import { waitFor as waitForWithin } from '../support/wait-for.js';

/** Prometheus needs a scrape and a rule evaluation or two: wait longer than the suites' default. */
const waitFor = <T>(what: string, fn: () => Promise<T | undefined | null | false>, timeoutMs = 30_000) => waitForWithin(what, fn, timeoutMs);

const PROMETHEUS = process.env.MXWATCH_TEST_PROMETHEUS ?? '/usr/bin/prometheus';
const RULES_FILE = path.join(ROOT, 'deploy/prometheus/alerts.yml');
const DASHBOARD_FILE = path.join(ROOT, 'deploy/grafana/dashboards/mxwatch.json');

/**
 * The domain the dashboard's `$domain` variable is set to: it has an open critical finding
 * (DANE_NO_MATCH), a signed zone, DANE on its MX host, SPF and DMARC, so every drill-down panel
 * has something to show.
 */
const DRILL_DOWN = 'danebad.test';

/** The open findings of an unsigned domain without MTA-STS or TLS-RPT (all info): what the fake internet's plain domains get. */
const PLAIN = ['DNSSEC_MX_HOST_UNSIGNED', 'DNSSEC_UNSIGNED', 'MTASTS_MISSING', 'TLSRPT_MISSING'];

/** The resolver canary in the rig (MXWATCH_DNSSEC_CANARY): one name that validates, one that must fail. */
const CANARY_ZONES: RigZone[] = [
  { name: 'canary-ok.test', signed: true, records: [] },
  { name: 'canary-bad.test', signed: true, records: ['www IN A 192.0.2.1'], bogus: ['www.canary-bad.test. 1 IN A 192.0.2.66'] },
];

/** Zone lines of a signed mail domain: one MX host, SPF and DMARC as the fake internet publishes them. */
const mailZone = (name: string, mxIp: string, extra: string[] = []): string[] => [
  '@ IN MX 10 mx',
  `mx IN A ${mxIp}`,
  '@ IN TXT "v=spf1 -all"',
  `_dmarc IN TXT "v=DMARC1; p=reject; rua=mailto:dmarc@${name}"`,
  ...extra,
];

/**
 * Panels that chart per-domain series only, so they are blank when the service runs with
 * MXWATCH_METRICS_PER_DOMAIN=false; every other panel without `$domain` must still show data
 * (probe success, MTA-STS modes and DNSSEC states come from the domain counts, `*_domains`).
 */
const PER_DOMAIN_ONLY = ['Domains'];

/**
 * A query rewritten for the `mxwatch-fleet` scrape job, which sees the service as
 * MXWATCH_METRICS_PER_DOMAIN=false leaves it (no series with a domain label) under `fleet:` names.
 */
function fleetView(expr: string): string {
  return expr.replace(/\b((?:mxwatch|process|nodejs)_\w+)/g, 'fleet:$1').replace(/job="mxwatch"/g, 'job="mxwatch-fleet"');
}

interface Target { refId: string; expr?: string }
interface Panel { id: number; title: string; type?: string; targets?: Target[]; panels?: Panel[] }

function allPanels(panels: Panel[]): Panel[] {
  return panels.flatMap((p) => [p, ...allPanels(p.panels ?? [])]);
}

/** What Grafana substitutes before a query reaches Prometheus. */
function grafanaInterpolate(expr: string): string {
  return expr
    .replace(/\$__rate_interval|\$\{__rate_interval\}/g, '1m')
    .replace(/\$__interval|\$\{__interval\}/g, '15s')
    .replace(/\$__range|\$\{__range\}/g, '1h')
    .replace(/\$domain\b|\$\{domain\}/g, DRILL_DOWN);
}

interface PromResponse<T> { status: string; data: T; errorType?: string; error?: string }
interface Sample { metric: Record<string, string>; value: [number, string] }


/** A webhook receiver for mxwatch's own notifications: 200 on /ok, 410 (final failure) on /gone. */
async function startReceiver(): Promise<{ url: string; server: Server }> {
  const server = createServer((req, res) => {
    req.resume();
    req.on('end', () => res.writeHead(req.url === '/gone' ? 410 : 200).end());
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, server };
}

describe('Grafana dashboard and alert rules against a real Prometheus', () => {
  let fake: FakeInternet;
  let web: FakePolicyServer;
  let rig: DnssecRig;
  let zones: RigZone[] = [];
  let db: Awaited<ReturnType<typeof createTestDatabase>>;
  let receiver: Awaited<ReturnType<typeof startReceiver>>;
  let app: RunningApp;
  let dir: string;
  let prometheus: ChildProcess | null = null;
  let promLog = '';
  let promUrl: string;
  const domains: Record<string, MailDomain> = {};
  /** The answers of the last round of checks, by domain. */
  let lastRound: Record<string, CheckRun> = {};

  async function promGet<T>(route: string, params: Record<string, string> = {}): Promise<PromResponse<T>> {
    const r = await fetch(`${promUrl}${route}?${new URLSearchParams(params)}`);
    return (await r.json()) as PromResponse<T>;
  }

  async function instant(expr: string): Promise<PromResponse<{ resultType: string; result: Sample[] | [number, string] }>> {
    return promGet('/api/v1/query', { query: expr });
  }

  /** The newest scrape of mxwatch by both jobs, in Prometheus' clock (unix seconds). */
  async function lastScrape(): Promise<number> {
    const r = await instant('min(timestamp(up{job=~"mxwatch|mxwatch-fleet"}))');
    const result = r.data?.result as Sample[] | undefined;
    return result?.length ? Number(result[0]!.value[1]) : 0;
  }

  /** Waits until Prometheus has scraped `n` more times after now, and evaluated the rules on it. */
  async function scrapedSince(n = 2): Promise<void> {
    const since = Date.now() / 1000;
    await waitFor(`${n} scrapes after ${since}`, async () => (await lastScrape()) >= since + n - 0.5);
    // Rules are evaluated every second too; give the group one more round.
    await new Promise((r) => setTimeout(r, 1200));
  }

  async function checkAll(): Promise<void> {
    lastRound = {};
    await Promise.all(
      Object.keys(domains).map(async (name) => {
        const r = await app.api('POST', `/api/v1/domains/${name}/check`);
        expect(r.status, r.text).toBe(200);
        lastRound[name] = r.body as CheckRun;
      }),
    );
  }

  beforeAll(async () => {
    if (!existsSync(PROMETHEUS)) {
      throw new Error(`${PROMETHEUS} is missing: install Debian's prometheus package (apt-get install -y prometheus) or set MXWATCH_TEST_PROMETHEUS. This suite never skips.`);
    }
    fake = await createFakeInternet({
      dnsblZones: [
        { zone: 'zen.spamhaus.org', kind: 'ip' },
        { zone: 'dbl.spamhaus.org', kind: 'domain' },
      ],
      // For the rig's unbound, which forwards the unsigned `.test` names to it.
      dnsUdp: true,
    });
    web = await FakePolicyServer.start({ ca: fake.ca, ip: fake.allocateIp() });
    domains['healthy.test'] = await fake.addMailDomain('healthy.test', { mx: [{ host: 'mx.healthy.test' }] });
    domains['nostarttls.test'] = await fake.addMailDomain('nostarttls.test', { mx: [{ host: 'mx.nostarttls.test', behaviour25: 'no-starttls' }] });
    domains['expired.test'] = await fake.addMailDomain('expired.test', { mx: [{ host: 'mx.expired.test', behaviour25: 'expired-cert' }] });
    domains['listed.test'] = await fake.addMailDomain('listed.test', { mx: [{ host: 'mx.listed.test' }] });
    domains['refused.test'] = await fake.addMailDomain('refused.test', { mx: [{ host: 'mx.refused.test' }] });
    domains['closed.test'] = await fake.addMailDomain('closed.test', { mx: [{ host: 'mx.closed.test', behaviour25: 'closed' }] });
    fake.dnsbl('zen.spamhaus.org').listIp(domains['listed.test'].mx[0]!.ip!, { codes: ['127.0.0.4'], txt: 'https://check.spamhaus.org/listed/' });
    // Spamhaus' "query refused: public resolver" answer, for this one domain only (counted under
    // query_refused_by_list; a finding about mxwatch itself), and its "excessive queries" answer
    // (DNSBL_QUERY_REFUSED, the domain's).
    fake.dnsbl('dbl.spamhaus.org').listDomain('refused.test', { codes: ['127.255.255.254'] });
    fake.dnsbl('zen.spamhaus.org').listIp(domains['refused.test'].mx[0]!.ip!, { codes: ['127.255.255.255'] });

    // Signed zones served and validated by the rig's unbound; their MX hosts are fake mail servers.
    // secure.test enforces MTA-STS and reports TLS; its TLSA records are published after the first
    // round, once the key its MX presents is known (a DANE change between the rounds).
    // danebad.test pins a key its MX does not present; bogus.test's MX records fail validation.
    const signedMx = async (name: string): Promise<MailDomain> => {
      const host = await fake.addHost({ host: `mx.${name}` });
      return { name, mx: [host], submission: [], ips: [host.ip!] };
    };
    domains['secure.test'] = await signedMx('secure.test');
    domains['danebad.test'] = await signedMx('danebad.test');
    domains['bogus.test'] = { name: 'bogus.test', mx: [{ host: 'mx.bogus.test', ip: '192.0.2.30' }], submission: [], ips: [] };
    await web.setSite('mta-sts.secure.test', { behaviour: 'good', body: 'version: STSv1\nmode: enforce\nmx: mx.secure.test\nmax_age: 604800\n' });
    zones = [
      ...CANARY_ZONES,
      {
        name: 'secure.test',
        signed: true,
        records: mailZone('secure.test', domains['secure.test'].mx[0]!.ip!, [
          '_mta-sts IN TXT "v=STSv1; id=1"',
          `mta-sts IN A ${web.ip}`,
          '_smtp._tls IN TXT "v=TLSRPTv1; rua=mailto:tls@secure.test"',
        ]),
      },
      {
        name: 'danebad.test',
        signed: true,
        records: mailZone('danebad.test', domains['danebad.test'].mx[0]!.ip!, [
          `_25._tcp.mx IN TLSA 3 1 1 ${randomBytes(32).toString('hex')}`,
          '_smtp._tls IN TXT "v=TLSRPTv1; rua=mailto:tls@danebad.test"',
        ]),
      },
      { name: 'bogus.test', signed: true, records: mailZone('bogus.test', '192.0.2.30'), bogus: ['bogus.test. 1 IN MX 10 evil.example.'] },
    ];
    rig = await DnssecRig.start({ zones, forward: { suffixes: ['test'], server: fake.dns.udpAddress!.replace(/:(\d+)$/, '@$1') } });

    receiver = await startReceiver();
    db = await createTestDatabase();
    dir = tempDir('mxwatch-prom-');
    const configFile = path.join(dir, 'mxwatch.yml');
    // A second channel that always fails, so the notifications panel and alert have both outcomes.
    writeFileSync(configFile, ['notifications:', '  - type: webhook', '    name: gone', `    url: ${receiver.url}/gone`, ''].join('\n'));
    app = await startApp({
      ...fake.env,
      // The core probes, DMARC (the fake internet publishes p=reject everywhere) and the transport
      // probes: the sending-policies and transport-security rows have data.
      MXWATCH_PROBES: `${CORE_PROBES},dmarc,mta-sts,tls-rpt,dnssec,dane`,
      MXWATCH_DNS_SERVERS: rig.address,
      MXWATCH_DNS_PROTOCOL: 'udp',
      MXWATCH_DNS_TIMEOUT_MS: '1000',
      MXWATCH_DNSBL_DNS_SERVERS: fake.env.MXWATCH_DNS_SERVERS!,
      MXWATCH_DNSBL_DNS_PROTOCOL: fake.env.MXWATCH_DNS_PROTOCOL!,
      MXWATCH_DNSSEC_CANARY: 'canary-ok.test,www.canary-bad.test',
      MXWATCH_PORT_MAP: `${fake.env.MXWATCH_PORT_MAP},443:${web.port}`,
      MXWATCH_CHECK_TIMEOUT: '15',
      DATABASE_URL: db.url,
      MXWATCH_CONFIG: configFile,
      MXWATCH_LOG_LEVEL: 'info',
      MXWATCH_WEBHOOK_URL: `${receiver.url}/ok`,
    });
    for (const name of Object.keys(domains)) {
      const r = await app.api('POST', '/api/v1/domains', { name });
      expect(r.status, r.text).toBe(201);
    }

    const promPort = await freePort();
    promUrl = `http://127.0.0.1:${promPort}`;
    const promConfig = path.join(dir, 'prometheus.yml');
    writeFileSync(
      promConfig,
      [
        'global:',
        '  scrape_interval: 1s',
        '  scrape_timeout: 1s',
        '  evaluation_interval: 1s',
        'rule_files:',
        `  - ${JSON.stringify(RULES_FILE)}`,
        'scrape_configs:',
        '  - job_name: mxwatch',
        '    static_configs:',
        `      - targets: [${JSON.stringify(new URL(app.baseUrl).host)}]`,
        // The same service as MXWATCH_METRICS_PER_DOMAIN=false shows it (host and fleet series only),
        // renamed so that no dashboard query or rule sees it twice.
        '  - job_name: mxwatch-fleet',
        '    static_configs:',
        `      - targets: [${JSON.stringify(new URL(app.baseUrl).host)}]`,
        '    metric_relabel_configs:',
        '      - source_labels: [domain]',
        '        regex: .+',
        '        action: drop',
        '      - source_labels: [__name__]',
        '        regex: (.+)',
        '        target_label: __name__',
        "        replacement: 'fleet:$1'",
        '',
      ].join('\n'),
    );
    prometheus = spawn(
      PROMETHEUS,
      [
        `--config.file=${promConfig}`,
        `--storage.tsdb.path=${path.join(dir, 'tsdb')}`,
        `--web.listen-address=127.0.0.1:${promPort}`,
        '--log.level=warn',
      ],
      { stdio: ['ignore', 'pipe', 'pipe'] },
    );
    prometheus.stdout!.on('data', (d: Buffer) => (promLog += d.toString()));
    prometheus.stderr!.on('data', (d: Buffer) => (promLog += d.toString()));
    prometheus.once('error', (e) => (promLog += `\n[prometheus failed to start: ${e.message}]`));
    prometheus.once('exit', (code) => (promLog += `\n[prometheus exited with ${code}]`));
    await waitFor('Prometheus to be ready', async () => (await fetch(`${promUrl}/-/ready`)).status === 200).catch((e) => {
      throw new Error(`${(e as Error).message}\n${promLog}`);
    });
    await waitFor('the first scrape of mxwatch', async () => (await lastScrape()) > 0);

    // Two rounds with scrapes in between: counters exist before they increase, so rate() and
    // increase() see a change, as they would on a long-running service.
    await checkAll();
    await scrapedSince(2);
    // The owner of secure.test publishes the key its MX presents as TLSA, with the next key beside it.
    const starttls = ofProbe(lastRound['secure.test']!, 'starttls').find((r) => r.details.port === 25);
    const spki = String(starttls?.details.chain?.[0]?.spkiSha256);
    expect(spki).toMatch(/^[0-9a-f]{64}$/);
    zones = zones.map((z) => (z.name === 'secure.test' ? { ...z, records: [...z.records, `_25._tcp.mx IN TLSA 3 1 1 ${spki}`, `_25._tcp.mx IN TLSA 3 1 1 ${randomBytes(32).toString('hex')}`] } : z));
    await rig.setZones(zones);
    await checkAll();
    expect((await app.api('POST', '/api/v1/notifications/test', {})).status).toBe(200);
    await scrapedSince(3);
  });

  afterAll(async () => {
    if (prometheus?.pid !== undefined && prometheus.exitCode === null && prometheus.signalCode === null) {
      const exited = new Promise((r) => prometheus!.once('exit', r));
      prometheus.kill('SIGTERM');
      const timer = setTimeout(() => prometheus?.kill('SIGKILL'), 5000);
      await exited;
      clearTimeout(timer);
    }
    await app?.stop();
    await new Promise((r) => (receiver ? receiver.server.close(r) : r(undefined)));
    await web?.close();
    await rig?.close();
    await fake?.close();
    await db?.drop();
    if (dir) removeDir(dir);
  });

  it('should check the scenario the way the queries below assume', async () => {
    const open = async (name: string) => (await app.api('GET', `/api/v1/domains/${name}/status`)).body.openFindings.map((f: { code: string }) => f.code).sort();
    const plainAnd = (code: string) => [...PLAIN, code].sort();
    expect(await open('healthy.test')).toEqual(PLAIN);
    expect(await open('nostarttls.test')).toEqual(plainAnd('STARTTLS_NOT_OFFERED'));
    expect(await open('expired.test')).toEqual(plainAnd('TLS_CERT_EXPIRED'));
    expect(await open('listed.test')).toEqual(plainAnd('DNSBL_LISTED'));
    expect(await open('refused.test')).toEqual(plainAnd('DNSBL_QUERY_REFUSED'));
    expect(await open('closed.test')).toEqual(plainAnd('SMTP_PORT_UNREACHABLE'));
    expect(await open('secure.test')).toEqual([]);
    expect(await open('danebad.test')).toEqual(['DANE_NO_MATCH', 'MTASTS_MISSING']);
    expect(await open('bogus.test')).toEqual(['DNSSEC_BOGUS', 'MTASTS_MISSING', 'TLSRPT_MISSING']);
    const secure = lastRound['secure.test']!;
    expect(ofProbe(secure, 'mta-sts')[0]).toMatchObject({ status: 'pass', details: { state: 'enforce' } });
    expect(ofProbe(secure, 'dnssec')[0]).toMatchObject({ status: 'pass', details: { state: 'secure', resolverValidating: true } });
    expect(ofProbe(secure, 'dane')[0]).toMatchObject({ status: 'pass', details: { deployed: true, addresses: [{ match: true }] } });
    const changes = (await app.api('GET', '/api/v1/domains/secure.test/changes')).body.items.map((c: { kind: string }) => c.kind);
    expect(changes).toEqual(['dane.tlsa_added', 'dane.tlsa_added']);
  });

  const dashboard = JSON.parse(readFileSync(DASHBOARD_FILE, 'utf8')) as { panels: Panel[] };
  const queries = allPanels(dashboard.panels).flatMap((p) => (p.targets ?? []).filter((t) => t.expr).map((t) => ({ panel: `${p.id} ${p.title} [${t.refId}]`, expr: t.expr! })));

  it('should find a query in every dashboard panel that shows data', () => {
    const withoutQuery = allPanels(dashboard.panels).filter((p) => p.type !== 'row' && p.type !== 'text' && !(p.targets ?? []).some((t) => t.expr)).map((p) => `${p.id} ${p.title}`);
    expect(withoutQuery).toEqual([]);
    expect(new Set(queries.map((q) => q.panel)).size).toBe(queries.length);
  });

  it.each(queries)('should answer dashboard panel $panel with data', async ({ expr }) => {
    const q = grafanaInterpolate(expr);
    expect(q).not.toMatch(/\$(?!1\b)/);
    const r = await instant(q);
    expect(r.status, `${q}: ${r.error}`).toBe('success');
    expect(Array.isArray(r.data.result) && r.data.result.length, `${q} returned no data`).toBeTruthy();
  });

  it('should show every fleet panel with MXWATCH_METRICS_PER_DOMAIN=false, except those that chart per-domain series', async () => {
    // The fleet job holds no series with a domain label, and does hold the host series.
    const leaked = await instant('count({__name__=~"fleet:.+", domain!=""})');
    expect(leaked.data.result).toEqual([]);
    expect(((await instant('fleet:mxwatch_dane_match')).data.result as Sample[]).length).toBeGreaterThan(0);
    const blank: string[] = [];
    for (const p of allPanels(dashboard.panels)) {
      const exprs = (p.targets ?? []).map((t) => t.expr).filter((e): e is string => !!e);
      if (exprs.length === 0 || exprs.some((e) => /\$domain\b|\$\{domain\}/.test(e))) continue;
      let shown = false;
      for (const expr of exprs) {
        const q = fleetView(grafanaInterpolate(expr));
        const r = await instant(q);
        expect(r.status, `${q}: ${r.error}`).toBe('success');
        if (Array.isArray(r.data.result) && r.data.result.length > 0) shown = true;
      }
      if (!shown) blank.push(p.title);
    }
    expect(blank.sort()).toEqual(PER_DOMAIN_ONLY);
    // The fleet job's domain counts say what the per-domain series say one by one.
    const byLabel = async (q: string, label: string) =>
      Object.fromEntries(((await instant(q)).data.result as Sample[]).map((x) => [x.metric[label], Number(x.value[1])]));
    for (const [counts, info, label] of [
      ['fleet:mxwatch_mtasts_mode_domains', 'mxwatch_mtasts_mode_info', 'mode'],
      ['fleet:mxwatch_dnssec_state_domains', 'mxwatch_dnssec_state_info', 'state'],
      ['fleet:mxwatch_dmarc_policy_domains', 'mxwatch_dmarc_policy_info', 'policy'],
    ] as const) {
      const expected = await byLabel(`count by (${label}) (${info}{job="mxwatch"} == 1)`, label);
      expect(Object.keys(expected).length, info).toBeGreaterThan(0);
      expect(await byLabel(`sum by (${label}) (${counts})`, label), counts).toEqual(expected);
    }
    // A probe no domain passed has no `pass` count at all.
    const passed = Object.fromEntries(Object.entries(await byLabel('sum by (probe) (mxwatch_probe_success{job="mxwatch"})', 'probe')).filter(([, n]) => n > 0));
    expect(await byLabel('sum by (probe) (fleet:mxwatch_probe_success_domains{result="pass"})', 'probe')).toEqual(passed);
  });

  it("should list every checked domain in the dashboard's domain variable", async () => {
    const r = await promGet<string[]>('/api/v1/label/domain/values', { 'match[]': 'mxwatch_last_check_timestamp_seconds' });
    expect(r.status).toBe('success');
    expect(r.data.sort()).toEqual(Object.keys(domains).sort());
  });

  const rules = (parse(readFileSync(RULES_FILE, 'utf8')) as { groups: { name: string; rules: { alert?: string; record?: string; expr: string }[] }[] }).groups.flatMap((g) =>
    g.rules.map((r) => ({ name: r.alert ?? r.record!, expr: r.expr })),
  );

  it.each(rules)('should parse and evaluate the expression of $name', async ({ expr }) => {
    const r = await instant(expr);
    expect(r.status, `${expr}: ${r.error}`).toBe('success');
  });

  it('should load every rule and evaluate it without error', async () => {
    const r = await promGet<{ groups: { name: string; rules: { name: string; health: string; lastError?: string; lastEvaluation: string }[] }[] }>('/api/v1/rules');
    expect(r.status).toBe('success');
    const loaded = r.data.groups.flatMap((g) => g.rules);
    expect(loaded.map((x) => x.name).sort()).toEqual(rules.map((x) => x.name).sort());
    for (const rule of loaded) {
      expect(rule.health, `${rule.name}: ${rule.lastError}`).toBe('ok');
      expect(rule.lastEvaluation).not.toMatch(/^0001-/);
    }
  });

  /** Series an alert rule's expression selects right now. */
  async function alerting(name: string): Promise<Record<string, string>[]> {
    const rule = rules.find((x) => x.name === name);
    expect(rule, name).toBeDefined();
    const r = await instant(rule!.expr);
    expect(r.status, `${name}: ${r.error}`).toBe('success');
    return (r.data.result as Sample[]).map((s) => s.metric);
  }

  it('should select the host without STARTTLS in StarttlsMissing', async () => {
    const ip = domains['nostarttls.test']!.mx[0]!.ip!;
    expect(await alerting('StarttlsMissing')).toEqual([expect.objectContaining({ host: 'mx.nostarttls.test', ip, port: '25' })]);
  });

  it('should select the listed address in DnsblListed', async () => {
    const ip = domains['listed.test']!.mx[0]!.ip!;
    expect(await alerting('DnsblListed')).toEqual([expect.objectContaining({ ip, zone: 'zen.spamhaus.org' })]);
  });

  it('should select the expired certificate in TlsCertExpired and nothing in TlsCertExpiringSoon', async () => {
    expect(await alerting('TlsCertExpired')).toEqual([expect.objectContaining({ host: 'mx.expired.test', port: '25' })]);
    expect(await alerting('TlsCertExpiringSoon')).toEqual([]);
  });

  it('should select the refusing list in DnsblQueryRefused', async () => {
    expect(await alerting('DnsblQueryRefused')).toEqual([{ zone: 'dbl.spamhaus.org' }]);
    expect(await alerting('DnsblZoneUnhealthy')).toEqual([]);
  });

  it('should select the critical codes in CriticalFindingsOpen', async () => {
    expect((await alerting('CriticalFindingsOpen')).map((m) => m.code).sort()).toEqual(['DANE_NO_MATCH', 'DNSBL_LISTED', 'DNSSEC_BOGUS', 'SMTP_PORT_UNREACHABLE', 'STARTTLS_NOT_OFFERED', 'TLS_CERT_EXPIRED']);
  });

  it('should select the bogus domain in DnssecBogus and the address no TLSA matches in DaneNoMatch', async () => {
    expect(await alerting('DnssecBogus')).toEqual([expect.objectContaining({ domain: 'bogus.test', state: 'bogus' })]);
    const ip = domains['danebad.test']!.mx[0]!.ip!;
    expect(await alerting('DaneNoMatch')).toEqual([expect.objectContaining({ host: 'mx.danebad.test', ip, port: '25' })]);
    // secure.test's matching address is charted, not alerted; publishing TLSA records weakens nothing.
    expect((await instant(`mxwatch_dane_match{host="mx.secure.test"}`)).data.result).toEqual([expect.objectContaining({ value: [expect.any(Number), '1'] })]);
    expect(await alerting('PolicyWeakened')).toEqual([]);
  });

  it('should select the failing channel in NotificationsFailing', async () => {
    expect(await alerting('NotificationsFailing')).toEqual([{ channel: 'gone' }]);
  });

  it('should select the closed port 25 in SmtpPort25Unreachable', async () => {
    const ip = domains['closed.test']!.mx[0]!.ip!;
    expect(await alerting('SmtpPort25Unreachable')).toEqual([expect.objectContaining({ host: 'mx.closed.test', ip, port: '25' })]);
  });

  it('should stay silent on the self-monitoring alerts of a healthy service', async () => {
    for (const name of ['MxwatchDown', 'ChecksStalled', 'ChecksAbsent', 'SchedulerLagging', 'SmtpOutboundBlocked', 'MxMissing', 'ProbesMostlyUntestable']) {
      expect(await alerting(name), name).toEqual([]);
    }
  });

  it('should hold the mail alerts pending (their for: has not elapsed) with their labels and annotations', async () => {
    const r = await promGet<{ alerts: { labels: Record<string, string>; annotations: Record<string, string>; state: string }[] }>('/api/v1/alerts');
    expect(r.status).toBe('success');
    const starttls = r.data.alerts.find((a) => a.labels.alertname === 'StarttlsMissing');
    expect(starttls).toMatchObject({ state: 'pending', labels: { severity: 'critical', host: 'mx.nostarttls.test', job: 'mxwatch' } });
    expect(starttls!.annotations.summary).toBe(`mx.nostarttls.test (${domains['nostarttls.test']!.mx[0]!.ip}) port 25 does not offer STARTTLS`);
    expect(r.data.alerts.find((a) => a.labels.alertname === 'DnsblListed')).toMatchObject({ state: 'pending', labels: { zone: 'zen.spamhaus.org' } });
    // Annotations that query Prometheus to name the affected domains.
    const port25 = r.data.alerts.find((a) => a.labels.alertname === 'SmtpPort25Unreachable');
    expect(port25?.annotations.description).toContain('It is an MX of closed.test.');
    const critical = r.data.alerts.find((a) => a.labels.alertname === 'CriticalFindingsOpen' && a.labels.code === 'TLS_CERT_EXPIRED');
    expect(critical?.annotations.description).toContain('Domains with open critical findings: bogus.test, closed.test, danebad.test, expired.test, listed.test, nostarttls.test.');
    expect(r.data.alerts.find((a) => a.labels.alertname === 'DnssecBogus')).toMatchObject({ state: 'pending', labels: { severity: 'critical', domain: 'bogus.test' } });
    expect(r.data.alerts.find((a) => a.labels.alertname === 'DaneNoMatch')).toMatchObject({ state: 'pending', labels: { severity: 'critical', host: 'mx.danebad.test' } });
    for (const a of r.data.alerts) {
      for (const [key, text] of Object.entries(a.annotations)) expect(text, `${a.labels.alertname} ${key}`).not.toMatch(/error expanding template|<no value>/);
    }
  });

  it('should answer the REST reads of this scenario as the OpenAPI document describes them', async () => {
    const doc = (await app.api('GET', '/api/docs-json')).body as OpenApiDocument;
    const gaps: string[] = [];
    const conforms = (method: string, route: string, body: unknown, label: string) => gaps.push(...schemaGaps(doc, responseSchema(doc, method, route, 200), body, label));
    for (const [name, run] of Object.entries(lastRound)) {
      conforms('POST', '/api/v1/domains/{name}/check', run, `POST check ${name}`);
      for (const [route, path] of [['/api/v1/domains/{name}', ''], ['/api/v1/domains/{name}/status', '/status'], ['/api/v1/domains/{name}/checks', '/checks'], ['/api/v1/domains/{name}/changes', '/changes']] as const) {
        const r = await app.api('GET', `/api/v1/domains/${name}${path}`);
        expect(r.status, r.text).toBe(200);
        conforms('GET', route, r.body, `GET ${name}${path}`);
      }
    }
    for (const query of ['status=open', 'status=pending', 'status=resolved']) conforms('GET', '/api/v1/findings', (await app.api('GET', `/api/v1/findings?${query}`)).body, `GET findings?${query}`);
    conforms('GET', '/api/v1/domains', (await app.api('GET', '/api/v1/domains')).body, 'GET domains');
    conforms('GET', '/api/v1/notifications', (await app.api('GET', '/api/v1/notifications')).body, 'GET notifications');
    expect(gaps).toEqual([]);
  });
});
