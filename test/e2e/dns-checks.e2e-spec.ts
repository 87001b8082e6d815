import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { FakeDnsFault } from '../rig/dns/fake-dns-server.js';
import { startApp, type RunningApp } from '../support/app-process.js';
import { CORE_PROBES, createFakeInternet, type FakeInternet, type MailDomainSpec } from '../support/fake-internet.js';
import { createTestDatabase } from '../support/postgres.js';
import { expectExactly, findingKeys, ofProbe, type CheckFinding, type CheckRun as Run } from '../support/check-run.js';

/** Every code the MX and DNSBL probes can raise: a healthy domain must show none of them. */
const DNS_CODES = [
  'MX_NXDOMAIN',
  'MX_MISSING',
  'MX_NULL',
  'MX_NULL_MIXED',
  'MX_TARGET_CNAME',
  'MX_TARGET_IP_LITERAL',
  'MX_TARGET_UNRESOLVABLE',
  'MX_TARGET_PRIVATE_IP',
  'MX_DUPLICATE',
  'DNSBL_LISTED',
  'DNSBL_QUERY_REFUSED',
  'DNSBL_ZONE_UNHEALTHY',
];

const CHECK_TIMEOUT_S = 6;


function metricValue(text: string, name: string, labels: Record<string, string>): number | null {
  for (const line of text.split('\n')) {
    if (!line.startsWith(`${name}{`)) continue;
    const m = /^[^{]+\{(.*)\} (\S+)$/.exec(line);
    if (!m) continue;
    const got = Object.fromEntries([...m[1]!.matchAll(/(\w+)="((?:[^"\\]|\\.)*)"/g)].map((x) => [x[1], x[2]]));
    if (Object.entries(labels).every(([k, v]) => got[k] === v) && Object.keys(got).length === Object.keys(labels).length) return Number(m[2]);
  }
  return null;
}

describe('DNS side: MX and DNSBL findings over HTTP', () => {
  let net: FakeInternet;
  let app: RunningApp;
  let zoneApp: RunningApp;
  let drop: Array<() => Promise<void>> = [];

  async function addDomain(target: RunningApp, name: string, spec: MailDomainSpec, body: Record<string, unknown> = {}) {
    const d = await net.addMailDomain(name, spec);
    const r = await target.api('POST', '/api/v1/domains', { name, ...body });
    expect(r.status, r.text).toBe(201);
    return d;
  }

  async function check(name: string, target: RunningApp = app): Promise<Run> {
    const r = await target.api('POST', `/api/v1/domains/${name}/check`);
    expect(r.status, r.text).toBe(200);
    return r.body as Run;
  }

  async function metrics(target: RunningApp = app): Promise<string> {
    const r = await fetch(`${target.baseUrl}/metrics`);
    return r.text();
  }

  /** The findings about mxwatch itself (GET /findings?scope=monitor, open and resolved). */
  async function monitorFindings(target: RunningApp): Promise<Array<CheckFinding & { scope: string; domain: string | null; evidence: Record<string, unknown> }>> {
    const r = await target.api('GET', '/api/v1/findings?scope=monitor');
    expect(r.status, r.text).toBe(200);
    return r.body;
  }

  /** What one run showed about the domain and about mxwatch itself, apart. */
  function byScope(run: Run) {
    const observed = run.findings.observed as Array<CheckFinding & { scope?: string }>;
    return { domain: findingKeys(observed.filter((f) => f.scope !== 'monitor')), monitor: findingKeys(observed.filter((f) => f.scope === 'monitor')) };
  }

  beforeAll(async () => {
    net = await createFakeInternet({
      dnsblZones: [
        { zone: 'zen.spamhaus.org', kind: 'ip' },
        { zone: 'bl.spamcop.net', kind: 'ip' },
        { zone: 'dbl.spamhaus.org', kind: 'domain' },
      ],
    });
    // Zone-wide states (a list refusing every query, a dead or wildcard list) are facts about the
    // list, cached for a minute and seen by every domain: they get a service of their own, whose
    // DNSBL resolver is declared shared (an ISP's resolver, say: no address list knows it).
    const zoneWide = [
      { zone: 'sbl.spamhaus.org', kind: 'ip' as const },
      { zone: 'b.barracudacentral.org', kind: 'ip' as const },
      { zone: 'multi.uribl.com', kind: 'domain' as const },
      { zone: 'dead.dnsbl.test', kind: 'ip' as const },
      { zone: 'wild.dnsbl.test', kind: 'domain' as const },
    ];
    for (const z of zoneWide) net.dnsbl(z.zone, z.kind);
    net.dnsbl('sbl.spamhaus.org').refuseEverything('127.255.255.254');
    net.dnsbl('multi.uribl.com').refuseEverything('127.0.0.1');
    net.dnsbl('dead.dnsbl.test').listNothing();
    net.dnsbl('wild.dnsbl.test').listEverything('127.0.0.2');

    const [db1, db2] = await Promise.all([createTestDatabase(), createTestDatabase()]);
    drop.push(() => db1.drop(), () => db2.drop());
    [app, zoneApp] = await Promise.all([
      startApp({ ...net.env, MXWATCH_PROBES: CORE_PROBES, DATABASE_URL: db1.url }),
      startApp({ ...net.env, MXWATCH_PROBES: CORE_PROBES, DATABASE_URL: db2.url, MXWATCH_DNSBL_ZONES: net.zonesEnv(zoneWide), MXWATCH_DNSBL_RESOLVER_SHARED: 'true' }),
    ]);
  });

  afterAll(async () => {
    await Promise.all([app?.stop(), zoneApp?.stop()]);
    await net?.close();
    await Promise.all(drop.map((f) => f()));
    drop = [];
  });

  describe('a healthy domain', () => {
    it('should show no finding at all, with every probe run', async () => {
      const d = await addDomain(app, 'healthy.test', { mx: [{ host: 'mx1.healthy.test' }, { host: 'mx2.healthy.test', pref: 20 }] });
      const run = await check('healthy.test');
      expect(run.findings.observed).toEqual([]);
      expect(run.findings.open).toEqual([]);
      const observedCodes = run.findings.observed.map((f) => f.code);
      for (const code of DNS_CODES) expect(observedCodes).not.toContain(code);
      expect(run.status).toBe('pass');

      const [mx] = ofProbe(run, 'mx');
      expect(mx).toMatchObject({ target: 'healthy.test', status: 'pass' });
      expect(mx!.details.hosts.map((h: { host: string; preference: number; addresses: string[] }) => [h.host, h.preference, h.addresses])).toEqual([
        ['mx1.healthy.test', 10, [d.mx[0]!.ip]],
        ['mx2.healthy.test', 20, [d.mx[1]!.ip]],
      ]);
      // 587/465 closed on an MX that is no submission host: a line of the run's facts, not a result.
      expect(ofProbe(run, 'smtp').map((r) => r.target).sort()).toEqual(d.mx.map((h) => `${h.host}[${h.ip}]:25`).sort());
      expect([...run.facts].sort()).toEqual(d.mx.flatMap((h) => [465, 587].map((p) => `smtp ${h.host}[${h.ip}]:${p} port_closed_not_required`)).sort());
      expect(ofProbe(run, 'starttls').map((r) => [r.target, r.status]).sort()).toEqual(d.mx.map((h) => [`${h.host}[${h.ip}]:25`, 'pass']).sort());
      expect(ofProbe(run, 'dnsbl').map((r) => [r.target, r.status, r.details.state]).sort()).toEqual(
        [
          ...d.mx.flatMap((h) => [`${h.ip}@zen.spamhaus.org`, `${h.ip}@bl.spamcop.net`]),
          'healthy.test@dbl.spamhaus.org',
        ]
          .map((t) => [t, 'pass', 'clean'])
          .sort(),
      );

      const status = await app.api('GET', '/api/v1/domains/healthy.test/status');
      expect(status.status).toBe(200);
      expect(status.body.openFindings).toEqual([]);
      expect(status.body.lastRun.status).toBe('pass');
      expect(status.body.probes.mx.status).toBe('pass');
      expect(status.body.probes.smtp.results).toHaveLength(2);
      expect(status.body.probes.dnsbl.results).toHaveLength(5);

      const m = await metrics();
      expect(metricValue(m, 'mxwatch_dnsbl_listed', { ip: d.mx[0]!.ip!, zone: 'zen.spamhaus.org' })).toBe(0);
    });
  });

  describe('MX findings', () => {
    it('should raise MX_NXDOMAIN for a domain that does not exist', async () => {
      await addDomain(app, 'nx.test', { nxdomain: true });
      const run = await check('nx.test');
      expectExactly(run, [['MX_NXDOMAIN', 'nx.test']]);
      expect(run.findings.observed[0]!.severity).toBe('critical');
      expect(ofProbe(run, 'mx')[0]).toMatchObject({ status: 'fail', reason: 'mx_nxdomain' });
      expect(ofProbe(run, 'smtp')).toEqual([]);
    });

    it('should raise MX_MISSING when there is no MX and no address to fall back to', async () => {
      await addDomain(app, 'nomx.test', { txt: ['v=spf1 -all'] });
      const run = await check('nomx.test');
      expectExactly(run, [['MX_MISSING', 'nomx.test']]);
      expect(run.findings.observed[0]!.message).toMatch(/no A\/AAAA record either/);
      expect(ofProbe(run, 'mx')[0]!.details).toMatchObject({ implicit: false, hosts: [] });
      expect(ofProbe(run, 'smtp')).toEqual([]);
    });

    it('should raise MX_MISSING and probe the A record as the implicit MX', async () => {
      const ip = net.allocateIp();
      await addDomain(app, 'implicit.test', { a: [ip] });
      const run = await check('implicit.test');
      expectExactly(run, [['MX_MISSING', 'implicit.test']]);
      expect(run.findings.observed[0]!.message).toContain(`implicit MX`);
      expect(run.findings.observed[0]!.message).toContain(ip);
      expect(ofProbe(run, 'mx')[0]!.details).toMatchObject({ implicit: true, hosts: [{ host: 'implicit.test', addresses: [ip] }] });
      expect(ofProbe(run, 'smtp').find((r) => r.target === `implicit.test[${ip}]:25`)).toMatchObject({ status: 'pass' });
      expect(ofProbe(run, 'starttls').map((r) => [r.target, r.status])).toEqual([[`implicit.test[${ip}]:25`, 'pass']]);
      expect(net.connections(ip)[25]).toBeGreaterThan(0);
      expect(ofProbe(run, 'dnsbl').map((r) => r.target).sort()).toEqual([`${ip}@bl.spamcop.net`, `${ip}@zen.spamhaus.org`, 'implicit.test@dbl.spamhaus.org']);
    });

    it('should report a null MX as info and skip SMTP and STARTTLS', async () => {
      await addDomain(app, 'nullmx.test', { nullMx: true });
      const run = await check('nullmx.test');
      expectExactly(run, [['MX_NULL', 'nullmx.test']]);
      expect(run.findings.observed[0]!.severity).toBe('info');
      expect(ofProbe(run, 'mx')[0]).toMatchObject({ status: 'pass', details: { nullMx: true, hosts: [] } });
      expect(ofProbe(run, 'smtp')).toEqual([]);
      expect(ofProbe(run, 'starttls')).toEqual([]);
    });

    it('should raise MX_NULL_MIXED for a null MX beside a real one, and still probe the real one', async () => {
      const d = await addDomain(app, 'nullmixed.test', { nullMx: true, mx: [{ host: 'mx.nullmixed.test' }] });
      const run = await check('nullmixed.test');
      expectExactly(run, [['MX_NULL_MIXED', 'nullmixed.test']]);
      expect(run.findings.observed[0]!.severity).toBe('critical');
      expect(ofProbe(run, 'smtp').find((r) => r.target === `mx.nullmixed.test[${d.mx[0]!.ip}]:25`)).toMatchObject({ status: 'pass' });
    });

    it('should raise MX_TARGET_CNAME for an MX naming an alias', async () => {
      const d = await addDomain(app, 'cname.test', { mx: [{ host: 'alias.cname.test', cnameTo: 'real.cname.test' }] });
      const run = await check('cname.test');
      expectExactly(run, [['MX_TARGET_CNAME', 'alias.cname.test']]);
      expect(run.findings.observed[0]!.message).toContain('real.cname.test');
      expect(ofProbe(run, 'mx')[0]!.details.hosts[0]).toMatchObject({ host: 'alias.cname.test', cname: 'real.cname.test', addresses: [d.mx[0]!.ip] });
    });

    it('should raise MX_TARGET_IP_LITERAL and connect to nothing', async () => {
      const ip = net.allocateIp();
      await net.setBehaviour(ip, 25, 'good');
      await addDomain(app, 'literal.test', { mx: [{ host: ip }] });
      const run = await check('literal.test');
      expectExactly(run, [['MX_TARGET_IP_LITERAL', ip]]);
      expect(run.findings.observed[0]!.severity).toBe('critical');
      expect(ofProbe(run, 'smtp')).toEqual([]);
      expect(net.connections(ip)[25]).toBe(0);
    });

    it('should raise MX_TARGET_UNRESOLVABLE for the host without an address only, and resolve it once the host has one', async () => {
      const d = await addDomain(app, 'unres.test', { mx: [{ host: 'mx1.unres.test' }, { host: 'mx2.unres.test', pref: 20, ip: null }] });
      const run = await check('unres.test');
      expectExactly(run, [['MX_TARGET_UNRESOLVABLE', 'mx2.unres.test']]);
      expect(run.findings.observed[0]!.message).toContain('NXDOMAIN');
      expect(run.findings.opened.map((f) => f.code)).toEqual(['MX_TARGET_UNRESOLVABLE']);
      expect(ofProbe(run, 'smtp').every((r) => r.target.startsWith(`mx1.unres.test[${d.mx[0]!.ip}]`))).toBe(true);

      const before = await app.api('GET', '/api/v1/domains/unres.test/status');
      expect(findingKeys(before.body.openFindings)).toEqual(['MX_TARGET_UNRESOLVABLE mx2.unres.test']);

      const ip = net.allocateIp();
      await net.setBehaviour(ip, 25, 'good', { hostname: 'mx2.unres.test' });
      net.dns.setRecords('mx2.unres.test', 'A', [ip]);
      net.ptr(ip, 'mx2.unres.test');
      const fixed = await check('unres.test');
      expect(fixed.findings.observed).toEqual([]);
      expect(fixed.findings.open).toEqual([]);
      expect(fixed.findings.resolved.map((f) => [f.code, f.target, f.status])).toEqual([['MX_TARGET_UNRESOLVABLE', 'mx2.unres.test', 'resolved']]);
      expect(ofProbe(fixed, 'smtp').find((r) => r.target === `mx2.unres.test[${ip}]:25`)).toMatchObject({ status: 'pass' });

      const after = await app.api('GET', '/api/v1/domains/unres.test/status');
      expect(after.body.openFindings).toEqual([]);
      const resolved = await app.api('GET', '/api/v1/findings?status=resolved&domain=unres.test');
      expect(resolved.body.map((f: CheckFinding & { resolvedAt: string | null }) => [f.code, f.target, f.resolvedAt !== null])).toEqual([['MX_TARGET_UNRESOLVABLE', 'mx2.unres.test', true]]);
    });

    it('should raise MX_TARGET_PRIVATE_IP and never dial nor list-check the private address', async () => {
      await addDomain(app, 'private.test', { mx: [{ host: 'mx.private.test', ip: '10.1.2.3' }] });
      net.dns.clearLog();
      const run = await check('private.test');
      expectExactly(run, [['MX_TARGET_PRIVATE_IP', 'mx.private.test']]);
      expect(run.findings.observed[0]!.message).toContain('10.1.2.3');
      expect(run.findings.observed[0]!.message).toContain('private');
      expect(run.results.filter((r) => JSON.stringify(r.target).includes('10.1.2.3'))).toEqual([]);
      expect(ofProbe(run, 'smtp')).toEqual([]);
      expect(ofProbe(run, 'starttls')).toEqual([]);
      expect(net.dns.queries.filter((q) => q.name.startsWith('3.2.1.10.'))).toEqual([]);
    });

    it('should raise MX_DUPLICATE once for a host named twice', async () => {
      await addDomain(app, 'dup.test', { mx: [{ host: 'mx.dup.test' }, { host: 'mx.dup.test', pref: 20 }] });
      const run = await check('dup.test');
      expectExactly(run, [['MX_DUPLICATE', 'mx.dup.test']]);
      expect(run.findings.observed[0]!.message).toContain('2 times');
      expect(ofProbe(run, 'mx')[0]!.details.hosts).toHaveLength(1);
    });
  });

  describe('DNSBL findings', () => {
    it('should raise DNSBL_LISTED for a listed MX address with the code meaning and TXT, and resolve it after delisting', async () => {
      const d = await addDomain(app, 'listed-ip.test', { mx: [{ host: 'mx.listed-ip.test' }] });
      const ip = d.mx[0]!.ip!;
      net.dnsbl('zen.spamhaus.org').listIp(ip, { codes: ['127.0.0.4'], txt: `https://check.spamhaus.org/listed/?searchterm=${ip}` });
      const run = await check('listed-ip.test');
      expectExactly(run, [['DNSBL_LISTED', `${ip}@zen.spamhaus.org`]]);
      const f = run.findings.observed[0]!;
      expect(f.severity).toBe('critical');
      expect(f.message).toContain('XBL: exploited host');
      expect(f.message).toContain('127.0.0.4');
      expect(f.message).toContain(`https://check.spamhaus.org/listed/?searchterm=${ip}`);
      const result = ofProbe(run, 'dnsbl').find((r) => r.target === `${ip}@zen.spamhaus.org`)!;
      expect(result).toMatchObject({ status: 'fail', details: { state: 'listed', codes: [{ code: '127.0.0.4' }] } });
      let m = await metrics();
      expect(metricValue(m, 'mxwatch_dnsbl_listed', { ip, zone: 'zen.spamhaus.org' })).toBe(1);
      expect(metricValue(m, 'mxwatch_dnsbl_listed', { ip, zone: 'bl.spamcop.net' })).toBe(0);

      net.dnsbl('zen.spamhaus.org').unlist(ip);
      const fixed = await check('listed-ip.test');
      expect(fixed.findings.observed).toEqual([]);
      expect(fixed.findings.open).toEqual([]);
      expect(findingKeys(fixed.findings.resolved)).toEqual([`DNSBL_LISTED ${ip}@zen.spamhaus.org`]);
      m = await metrics();
      expect(metricValue(m, 'mxwatch_dnsbl_listed', { ip, zone: 'zen.spamhaus.org' })).toBe(0);
    });

    it('should raise DNSBL_LISTED for a domain on a domain list', async () => {
      await addDomain(app, 'listed-domain.test', { mx: [{ host: 'mx.listed-domain.test' }] });
      net.dnsbl('dbl.spamhaus.org').listDomain('listed-domain.test', { codes: ['127.0.1.2'], txt: 'https://www.spamhaus.org/query/domain/listed-domain.test' });
      const run = await check('listed-domain.test');
      expectExactly(run, [['DNSBL_LISTED', 'listed-domain.test@dbl.spamhaus.org']]);
      expect(run.findings.observed[0]!.message).toContain('spam domain');
      expect(run.findings.observed[0]!.message).toContain('127.0.1.2');
      const m = await metrics();
      expect(metricValue(m, 'mxwatch_dnsbl_listed', { ip: 'listed-domain.test', zone: 'dbl.spamhaus.org' })).toBe(1);
    });

    it('should raise DNSBL_QUERY_REFUSED, neither listed nor clean, for a Spamhaus 127.255.255.255 (excessive queries) answer', async () => {
      const d = await addDomain(app, 'refused-code.test', { mx: [{ host: 'mx.refused-code.test' }] });
      const ip = d.mx[0]!.ip!;
      net.dnsbl('zen.spamhaus.org').listIp(ip, { codes: ['127.255.255.255'] });
      const run = await check('refused-code.test');
      expectExactly(run, [['DNSBL_QUERY_REFUSED', 'zen.spamhaus.org']]);
      expect(run.findings.observed[0]!.message).toContain('127.255.255.255');
      expect(ofProbe(run, 'dnsbl').find((r) => r.target === `${ip}@zen.spamhaus.org`)).toMatchObject({ status: 'untestable', reason: 'dnsbl_query_refused', details: { state: 'error' } });
      const m = await metrics();
      expect(metricValue(m, 'mxwatch_dnsbl_listed', { ip, zone: 'zen.spamhaus.org' })).toBeNull();
      expect(metricValue(m, 'mxwatch_dnsbl_listed', { ip, zone: 'bl.spamcop.net' })).toBe(0);
    });

    it('should take the lists\' own "public resolver refused" answer (127.255.255.254) as proof: ONE finding about mxwatch for every domain, untestable results, no verdict on any domain', async () => {
      const names = ['shared-1.test', 'shared-2.test', 'shared-3.test'];
      const ips: string[] = [];
      for (const name of names) {
        const d = await addDomain(app, name, { mx: [{ host: `mx.${name}` }] });
        ips.push(d.mx[0]!.ip!);
        // The resolver's address is no public one's (loopback): only the answers say so.
        net.dnsbl('zen.spamhaus.org').listIp(d.mx[0]!.ip!, { codes: ['127.255.255.254'] });
        net.dnsbl('dbl.spamhaus.org').listDomain(name, { codes: ['127.255.255.254'] });
      }
      for (const [i, name] of names.entries()) {
        const run = await check(name);
        expect(byScope(run), name).toEqual({ domain: [], monitor: ['MONITOR_DNSBL_RESOLVER_PUBLIC dnsbl-resolver'] });
        expect(run.findings.open, name).toEqual([]);
        expect(ofProbe(run, 'dnsbl').map((r) => [r.target, r.status, r.reason]).sort(), name).toEqual(
          [
            [`${ips[i]}@zen.spamhaus.org`, 'untestable', 'dnsbl_resolver_public'],
            [`${name}@dbl.spamhaus.org`, 'untestable', 'dnsbl_resolver_public'],
            [`${ips[i]}@bl.spamcop.net`, 'pass', null],
          ].sort(),
        );
      }

      const monitor = await monitorFindings(app);
      expect(monitor).toHaveLength(1);
      expect(monitor[0]).toMatchObject({ code: 'MONITOR_DNSBL_RESOLVER_PUBLIC', scope: 'monitor', domain: null, status: 'open', target: 'dnsbl-resolver', severity: 'warning' });
      expect(monitor[0]!.message).toContain('which zen.spamhaus.org, dbl.spamhaus.org refuse to answer');
      for (const name of names) {
        for (const q of [`domain=${name}`, `domain=${name}&status=pending`]) {
          const own = await app.api('GET', `/api/v1/findings?${q}`);
          expect(own.body.map((f: CheckFinding) => f.code), q).toEqual([]);
        }
      }
      let m = await metrics();
      expect(metricValue(m, 'mxwatch_findings_open', { severity: 'warning', code: 'MONITOR_DNSBL_RESOLVER_PUBLIC' })).toBe(1);
      for (const ip of ips) expect(metricValue(m, 'mxwatch_dnsbl_listed', { ip, zone: 'zen.spamhaus.org' }), ip).toBeNull();

      // The lists answer again (the resolver is no longer refused): the next check resolves it.
      net.dnsbl('zen.spamhaus.org').unlist(ips[0]!);
      net.dnsbl('dbl.spamhaus.org').unlist(names[0]!);
      const fixed = await check(names[0]!);
      expect(byScope(fixed)).toEqual({ domain: [], monitor: [] });
      expect((await monitorFindings(app)).map((f) => [f.code, f.status])).toEqual([['MONITOR_DNSBL_RESOLVER_PUBLIC', 'resolved']]);
      m = await metrics();
      expect(metricValue(m, 'mxwatch_findings_open', { severity: 'warning', code: 'MONITOR_DNSBL_RESOLVER_PUBLIC' }) ?? 0).toBe(0);
      for (const name of names.slice(1)) {
        net.dnsbl('zen.spamhaus.org').unlist(ips[names.indexOf(name)]!);
        net.dnsbl('dbl.spamhaus.org').unlist(name);
      }
    });

    it('should raise DNSBL_QUERY_REFUSED, neither listed nor clean, when the resolver answers REFUSED for the list', async () => {
      const d = await addDomain(app, 'refused-rcode.test', { mx: [{ host: 'mx.refused-rcode.test' }] });
      const ip = d.mx[0]!.ip!;
      net.dns.setFault(net.dnsbl('bl.spamcop.net').nameOf(ip), { rcode: 'REFUSED' });
      try {
        const run = await check('refused-rcode.test');
        expectExactly(run, [['DNSBL_QUERY_REFUSED', 'bl.spamcop.net']]);
        expect(run.findings.observed[0]!.message).toContain('DNS REFUSED');
        expect(ofProbe(run, 'dnsbl').find((r) => r.target === `${ip}@bl.spamcop.net`)).toMatchObject({ status: 'untestable', details: { state: 'error' } });
        const m = await metrics();
        expect(metricValue(m, 'mxwatch_dnsbl_listed', { ip, zone: 'bl.spamcop.net' })).toBeNull();
        expect(metricValue(m, 'mxwatch_dnsbl_listed', { ip, zone: 'zen.spamhaus.org' })).toBe(0);
      } finally {
        net.dns.clearFault(net.dnsbl('bl.spamcop.net').nameOf(ip));
      }
    });

    it('should raise ONE finding about a resolver declared shared (MXWATCH_DNSBL_RESOLVER_SHARED=true) for every domain, and DNSBL_ZONE_UNHEALTHY for dead and wildcard lists', async () => {
      const names = ['zones.test', 'zones-2.test', 'zones-3.test'];
      for (const name of names) {
        const d = await addDomain(zoneApp, name, { mx: [{ host: `mx.${name}` }] });
        const ip = d.mx[0]!.ip!;
        const run = await check(name, zoneApp);
        // Per domain: only the dead and wildcard lists; the refusals are about mxwatch, said once.
        expect(byScope(run), name).toEqual({
          domain: ['DNSBL_ZONE_UNHEALTHY dead.dnsbl.test', 'DNSBL_ZONE_UNHEALTHY wild.dnsbl.test'],
          monitor: ['MONITOR_DNSBL_RESOLVER_PUBLIC dnsbl-resolver'],
        });
        expect(findingKeys(run.findings.open), name).toEqual(['DNSBL_ZONE_UNHEALTHY dead.dnsbl.test', 'DNSBL_ZONE_UNHEALTHY wild.dnsbl.test']);
        const byTarget = Object.fromEntries(run.findings.observed.map((f) => [f.target, f]));
        expect(byTarget['dead.dnsbl.test']!.message).toMatch(/must be listed/);
        expect(byTarget['wild.dnsbl.test']!.message).toMatch(/must not be listed/);
        // Barracuda answered "not listed", which through a shared resolver says nothing: untestable too.
        expect(ofProbe(run, 'dnsbl').map((r) => [r.target, r.status, r.reason]).sort(), name).toEqual(
          [
            [`${ip}@sbl.spamhaus.org`, 'dnsbl_resolver_public'],
            [`${ip}@b.barracudacentral.org`, 'dnsbl_resolver_public'],
            [`${name}@multi.uribl.com`, 'dnsbl_resolver_public'],
            [`${ip}@dead.dnsbl.test`, 'zone_unhealthy'],
            [`${name}@wild.dnsbl.test`, 'zone_unhealthy'],
          ]
            .map(([t, reason]) => [t, 'untestable', reason])
            .sort(),
        );
        const m = await metrics(zoneApp);
        for (const [subject, zone] of [[ip, 'sbl.spamhaus.org'], [ip, 'b.barracudacentral.org'], [name, 'multi.uribl.com'], [ip, 'dead.dnsbl.test'], [name, 'wild.dnsbl.test']]) {
          expect(metricValue(m, 'mxwatch_dnsbl_listed', { ip: subject!, zone: zone! }), `${subject}@${zone}`).toBeNull();
        }
      }
      const monitor = await monitorFindings(zoneApp);
      expect(monitor.map((f) => [f.code, f.status, f.domain, f.target])).toEqual([['MONITOR_DNSBL_RESOLVER_PUBLIC', 'open', null, 'dnsbl-resolver']]);
      expect(monitor[0]!.message).toContain('declared shared by MXWATCH_DNSBL_RESOLVER_SHARED');
      expect(monitor[0]!.message).toContain('which sbl.spamhaus.org, b.barracudacentral.org, multi.uribl.com refuse to answer');
      const m = await metrics(zoneApp);
      expect(metricValue(m, 'mxwatch_findings_open', { severity: 'warning', code: 'MONITOR_DNSBL_RESOLVER_PUBLIC' })).toBe(1);
      expect(metricValue(m, 'mxwatch_findings_open', { severity: 'warning', code: 'DNSBL_QUERY_REFUSED' }) ?? 0).toBe(0);
      expect(metricValue(m, 'mxwatch_findings_open', { severity: 'critical', code: 'DNSBL_LISTED' }) ?? 0).toBe(0);
    });
  });

  describe('when the resolver is down', () => {
    it.each<[string, string, FakeDnsFault]>([
      ['SERVFAIL for everything', 'servfail', { rcode: 'SERVFAIL' }],
      ['REFUSED for everything', 'refused', { rcode: 'REFUSED' }],
      ['no answer at all', 'drop', { drop: true }],
    ])('should end within the deadline with untestable results and no finding: %s', async (_what, label, fault) => {
      const name = `down-${label}.test`;
      await addDomain(app, name, { mx: [{ host: `mx.${name}` }, { host: `mx.${name}`, pref: 20 }] });
      const first = await check(name);
      expectExactly(first, [['MX_DUPLICATE', `mx.${name}`]]);

      net.dns.setFault('*', fault);
      const started = Date.now();
      let run: Run;
      try {
        run = await check(name);
      } finally {
        net.dns.clearFault('*');
      }
      expect(Date.now() - started).toBeLessThan((CHECK_TIMEOUT_S + 5) * 1000);
      expect(run.findings.observed).toEqual([]);
      expect(run.findings.resolved).toEqual([]);
      // An untestable run neither opens nor resolves: what was open stays open.
      expect(findingKeys(run.findings.open)).toEqual([`MX_DUPLICATE mx.${name}`]);
      expect(run.status).toBe('untestable');
      expect(ofProbe(run, 'mx')[0]).toMatchObject({ status: 'untestable' });
      expect(ofProbe(run, 'smtp')).toEqual([]);
      expect(ofProbe(run, 'starttls')).toEqual([]);
      expect(ofProbe(run, 'dnsbl').length).toBeGreaterThan(0);
      for (const r of ofProbe(run, 'dnsbl')) expect(r.status, r.target).toBe('untestable');

      const status = await app.api('GET', `/api/v1/domains/${name}/status`);
      expect(status.body.probes.mx.status).toBe('untestable');
      expect(status.body.probes.smtp).toEqual({ status: null, results: [] });
      expect(findingKeys(status.body.openFindings)).toEqual([`MX_DUPLICATE mx.${name}`]);
    });
  });
});
