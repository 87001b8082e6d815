/**
 * Transport policies end to end: the built service resolves through a real validating unbound
 * (UDP) that serves ldns-signed zones itself and forwards every other `.test` name to the fake
 * DNS; MTA-STS policies come from the fake HTTPS policy server through MXWATCH_PORT_MAP
 * (443 -> its port); DANE is matched against what the fake mail servers present.
 *
 * Exact finding sets are asserted over the codes of the four transport-policy probes (the other
 * probes have their own suites).
 */
import { randomBytes } from 'node:crypto';
import packet from 'dns-packet';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FakePolicyServer } from '../rig/https/fake-policy-server.js';
import { DnssecRig, type RigZone } from '../rig/dnssec/dnssec-rig.js';
import { startApp, type RunningApp } from '../support/app-process.js';
import { type OpenApiDocument, responseSchema, schemaGaps } from '../support/openapi-conformance.js';
import { type CheckRun as Run, expectExactly, ofProbe } from '../support/check-run.js';
import { createFakeInternet, type FakeInternet } from '../support/fake-internet.js';
import { createTestDatabase } from '../support/postgres.js';
import { waitFor } from '../support/wait-for.js';

const MINE = /^(MTASTS_|TLSRPT_|DNSSEC_|DANE_|MONITOR_RESOLVER_NOT_VALIDATING$)/;
const CANARY_ZONES: RigZone[] = [
  { name: 'canary-ok.test', signed: true, records: [] },
  { name: 'canary-bad.test', signed: true, records: ['www IN A 192.0.2.1'], bogus: ['www.canary-bad.test. 1 IN A 192.0.2.66'] },
];

const policy = (mode: string, mx: string[], maxAge = 604800) => `version: STSv1\nmode: ${mode}\n${mx.map((m) => `mx: ${m}\n`).join('')}max_age: ${maxAge}\n`;

/** The run with only the transport-policy findings. */
function mine(run: Run): Run {
  const keep = (list: Run['findings']['observed']) => list.filter((f) => MINE.test(f.code));
  return { ...run, findings: { observed: keep(run.findings.observed), opened: keep(run.findings.opened), resolved: keep(run.findings.resolved), open: keep(run.findings.open) } };
}

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

describe('transport policies: MTA-STS, TLS-RPT, DNSSEC and DANE', () => {
  let net: FakeInternet;
  let web: FakePolicyServer;
  let rig: DnssecRig;
  let app: RunningApp;
  let zones: RigZone[];
  let mxSecureIp: string;
  let mxDaneBadIp: string;
  const drop: Array<() => Promise<void>> = [];

  async function monitor(name: string): Promise<void> {
    const r = await app.api('POST', '/api/v1/domains', { name });
    expect(r.status, r.text).toBe(201);
  }

  async function check(name: string): Promise<Run> {
    const r = await app.api('POST', `/api/v1/domains/${name}/check`);
    expect(r.status, r.text).toBe(200);
    return r.body as Run;
  }

  /** An unsigned domain in the fake DNS with one good MX, a TLS-RPT record and an MTA-STS policy site. */
  async function stsDomain(name: string, site: Parameters<FakePolicyServer['setSite']>[1] | null, options: { mxHost?: string; behaviour25?: 'good' | 'expired-cert'; stsHostIp?: string } = {}) {
    const mxHost = options.mxHost ?? `mx.${name}`;
    const d = await net.addMailDomain(name, { mx: [{ host: mxHost, behaviour25: options.behaviour25 ?? 'good' }] });
    net.dns.setRecords(`_smtp._tls.${name}`, 'TXT', [`v=TLSRPTv1; rua=mailto:tls@${name}`]);
    if (site) {
      net.dns.setRecords(`_mta-sts.${name}`, 'TXT', ['v=STSv1; id=20240101'], 0);
      net.dns.setRecords(`mta-sts.${name}`, 'A', [options.stsHostIp ?? web.ip], 0);
      await web.setSite(`mta-sts.${name}`, site);
    }
    await monitor(name);
    return d;
  }

  beforeAll(async () => {
    net = await createFakeInternet({ dnsUdp: true });
    web = await FakePolicyServer.start({ ca: net.ca, ip: net.allocateIp() });
    mxSecureIp = (await net.addHost({ host: 'mx.secure.test' })).ip!;
    mxDaneBadIp = (await net.addHost({ host: 'mx.danebad.test' })).ip!;
    zones = [
      ...CANARY_ZONES,
      {
        name: 'secure.test',
        signed: true,
        records: [
          '@ IN MX 10 mx',
          `mx IN A ${mxSecureIp}`,
          '_mta-sts IN TXT "v=STSv1; id=1"',
          `mta-sts IN A ${web.ip}`,
          '_smtp._tls IN TXT "v=TLSRPTv1; rua=mailto:tls@secure.test"',
        ],
      },
      { name: 'bogusmx.test', signed: true, records: ['@ IN MX 10 mx', 'mx IN A 192.0.2.30'], bogus: ['bogusmx.test. 1 IN MX 10 evil.example.'] },
      { name: 'danebad.test', signed: true, records: ['@ IN MX 10 mx', `mx IN A ${mxDaneBadIp}`, `_25._tcp.mx IN TLSA 3 1 1 ${randomBytes(32).toString('hex')}`] },
    ];
    await web.setSite('mta-sts.secure.test', { behaviour: 'good', body: policy('enforce', ['mx.secure.test']) });
    rig = await DnssecRig.start({ zones, forward: { suffixes: ['test'], server: net.dns.udpAddress!.replace(/:(\d+)$/, '@$1') } });
    const db = await createTestDatabase();
    drop.push(() => db.drop());
    app = await startApp({
      ...net.env,
      DATABASE_URL: db.url,
      MXWATCH_DNS_SERVERS: rig.address,
      MXWATCH_DNS_PROTOCOL: 'udp',
      MXWATCH_DNS_TIMEOUT_MS: '1000',
      MXWATCH_PORT_MAP: `${net.env.MXWATCH_PORT_MAP},443:${web.port}`,
      MXWATCH_DNSSEC_CANARY: 'canary-ok.test,www.canary-bad.test',
      MXWATCH_CHECK_TIMEOUT: '15',
    });
  });

  afterAll(async () => {
    await app?.stop();
    await web?.close();
    await rig?.close();
    await net?.close();
    await Promise.all(drop.map((f) => f()));
  });

  it('should find nothing wrong with a signed domain that enforces MTA-STS, reports TLS and pins its key with DANE', async () => {
    await monitor('secure.test');
    // The first run shows the key the MX presents; the owner publishes it (with the next key) as TLSA.
    const first = await check('secure.test');
    const starttls = ofProbe(first, 'starttls').find((r) => r.details.port === 25);
    const spki: string = starttls!.details.chain[0].spkiSha256;
    expect(spki).toMatch(/^[0-9a-f]{64}$/);
    zones = zones.map((z) => (z.name === 'secure.test' ? { ...z, records: [...z.records, `_25._tcp.mx IN TLSA 3 1 1 ${spki}`, `_25._tcp.mx IN TLSA 3 1 1 ${randomBytes(32).toString('hex')}`] } : z));
    await rig.setZones(zones);
    // As an operator would: see the records validated at the resolver before checking again.
    await waitFor('the validating resolver to serve the new TLSA records', async () => {
      const answer = await rig.query('_25._tcp.mx.secure.test', 'TLSA', { dnssec: true });
      return ((answer.flags ?? 0) & packet.AUTHENTIC_DATA) !== 0 && (answer.answers ?? []).filter((a) => a.type === 'TLSA').length === 2;
    });

    const run = mine(await check('secure.test'));
    expectExactly(run, []);
    expect(ofProbe(run, 'mta-sts')[0]).toMatchObject({ status: 'pass', details: { state: 'enforce', id: '1' } });
    expect(ofProbe(run, 'tls-rpt')[0]).toMatchObject({ status: 'pass', details: { state: 'valid' } });
    expect(ofProbe(run, 'dnssec')[0]).toMatchObject({ status: 'pass', details: { state: 'secure', resolverValidating: true } });
    const dane = ofProbe(run, 'dane')[0];
    expect(dane, JSON.stringify(dane)).toMatchObject({ status: 'pass', target: 'mx.secure.test', details: { deployed: true, addresses: [{ ip: mxSecureIp, match: true }] } });
    expect(web.requests.filter((r) => r.host === 'mta-sts.secure.test').every((r) => r.sni === 'mta-sts.secure.test')).toBe(true);

    const text = await (await fetch(`${app.baseUrl}/metrics`)).text();
    expect(metricValue(text, 'mxwatch_mtasts_mode_info', { domain: 'secure.test', mode: 'enforce' })).toBe(1);
    expect(metricValue(text, 'mxwatch_dnssec_state_info', { domain: 'secure.test', state: 'secure' })).toBe(1);
    expect(metricValue(text, 'mxwatch_dane_match', { host: 'mx.secure.test', ip: mxSecureIp, port: '25' })).toBe(1);
  });

  it('should note an unsigned domain without MTA-STS or TLS-RPT with info findings only', async () => {
    const d = await net.addMailDomain('plain.test', { mx: [{ host: 'mx.plain.test' }] });
    await monitor('plain.test');
    const run = mine(await check('plain.test'));
    expectExactly(run, [
      ['MTASTS_MISSING', 'plain.test', 'info'],
      ['TLSRPT_MISSING', 'plain.test', 'info'],
      ['DNSSEC_UNSIGNED', 'plain.test', 'info'],
      ['DNSSEC_MX_HOST_UNSIGNED', d.mx[0]!.host, 'info'],
    ]);
  });

  it('should report a policy host with an expired certificate as unreachable, naming the cause', async () => {
    await stsDomain('sts-expired.test', { behaviour: 'expired', body: policy('enforce', ['mx.sts-expired.test']) });
    const run = mine(await check('sts-expired.test'));
    expectExactly(run, [
      ['MTASTS_POLICY_UNREACHABLE', 'sts-expired.test', 'critical'],
      ['DNSSEC_UNSIGNED', 'sts-expired.test'],
      ['DNSSEC_MX_HOST_UNSIGNED', 'mx.sts-expired.test'],
    ]);
    expect(run.findings.observed.find((f) => f.code === 'MTASTS_POLICY_UNREACHABLE')!.message).toMatch(/certificate/);
  });

  it('should refuse an MTA-STS host that resolves to a refused address, report it, and dial nothing', async () => {
    await stsDomain('sts-private.test', { behaviour: 'good', body: policy('enforce', ['mx.sts-private.test']) }, { stsHostIp: '10.20.30.40' });
    const run = mine(await check('sts-private.test'));
    expectExactly(run, [
      ['MTASTS_POLICY_UNREACHABLE', 'sts-private.test', 'critical'],
      ['DNSSEC_UNSIGNED', 'sts-private.test'],
      ['DNSSEC_MX_HOST_UNSIGNED', 'mx.sts-private.test'],
    ]);
    const sts = ofProbe(run, 'mta-sts')[0]!;
    expect(sts.details.fetch).toMatchObject({ error: 'forbidden', ip: null, refused: [{ ip: '10.20.30.40', range: 'private' }] });
    expect(web.requests.filter((r) => r.host === 'mta-sts.sts-private.test')).toEqual([]);
  });

  it('should apply the one-label wildcard rule of RFC 8461 to MX coverage (two popular checkers match any suffix)', async () => {
    await stsDomain('sts-wild.test', { behaviour: 'good', body: policy('enforce', ['*.sts-wild.test']) }, { mxHost: 'mx.deep.sts-wild.test' });
    const run = mine(await check('sts-wild.test'));
    expectExactly(run, [
      ['MTASTS_MX_NOT_COVERED', 'mx.deep.sts-wild.test', 'critical'],
      ['DNSSEC_UNSIGNED', 'sts-wild.test'],
      ['DNSSEC_MX_HOST_UNSIGNED', 'mx.deep.sts-wild.test'],
    ]);
  });

  it('should flag an MX certificate enforcing senders refuse, and only note a testing policy', async () => {
    const d = await stsDomain('sts-badcert.test', { behaviour: 'good', body: policy('enforce', ['mx.sts-badcert.test']) }, { behaviour25: 'expired-cert' });
    const run = mine(await check('sts-badcert.test'));
    expectExactly(run, [
      ['MTASTS_MX_CERT_INVALID', `mx.sts-badcert.test[${d.mx[0]!.ip}]:25`, 'critical'],
      ['DNSSEC_UNSIGNED', 'sts-badcert.test'],
      ['DNSSEC_MX_HOST_UNSIGNED', 'mx.sts-badcert.test'],
    ]);
    await stsDomain('sts-testing.test', { behaviour: 'good', body: policy('testing', ['mx.sts-testing.test']) }, { behaviour25: 'expired-cert' });
    expectExactly(mine(await check('sts-testing.test')), [
      ['MTASTS_TESTING', 'sts-testing.test', 'info'],
      ['DNSSEC_UNSIGNED', 'sts-testing.test'],
      ['DNSSEC_MX_HOST_UNSIGNED', 'mx.sts-testing.test'],
    ]);
  });

  it('should report MX records that fail DNSSEC validation', async () => {
    await monitor('bogusmx.test');
    const run = mine(await check('bogusmx.test'));
    expectExactly(run, [
      ['DNSSEC_BOGUS', 'bogusmx.test', 'critical'],
      ['MTASTS_MISSING', 'bogusmx.test'],
      ['TLSRPT_MISSING', 'bogusmx.test'],
    ]);
    const text = await (await fetch(`${app.baseUrl}/metrics`)).text();
    expect(metricValue(text, 'mxwatch_dnssec_state_info', { domain: 'bogusmx.test', state: 'bogus' })).toBe(1);
  });

  it('should report a TLSA record that matches nothing the MX presents, and warn that TLS-RPT is missing', async () => {
    await monitor('danebad.test');
    const run = mine(await check('danebad.test'));
    expectExactly(run, [
      ['DANE_NO_MATCH', `mx.danebad.test[${mxDaneBadIp}]:25`, 'critical'],
      ['MTASTS_MISSING', 'danebad.test', 'info'],
      ['TLSRPT_MISSING', 'danebad.test', 'warning'],
    ]);
    const text = await (await fetch(`${app.baseUrl}/metrics`)).text();
    expect(metricValue(text, 'mxwatch_dane_match', { host: 'mx.danebad.test', ip: mxDaneBadIp, port: '25' })).toBe(0);
  });
});

describe('transport policies behind a resolver that does not validate DNSSEC', () => {
  let net: FakeInternet;
  let rig: DnssecRig;
  let app: RunningApp;
  let hook: Server;
  const hooked: Array<Record<string, any>> = [];
  const drop: Array<() => Promise<void>> = [];
  const DOMAINS = ['unsigned.test', 'unsigned2.test', 'bogusmx2.test'];

  beforeAll(async () => {
    net = await createFakeInternet({ dnsUdp: true });
    rig = await DnssecRig.start({
      validating: false,
      zones: [...CANARY_ZONES, { name: 'bogusmx2.test', signed: true, records: ['@ IN MX 10 mx', 'mx IN A 192.0.2.30'], bogus: ['bogusmx2.test. 1 IN MX 10 mx.other.test.'] }],
      forward: { suffixes: ['test'], server: net.dns.udpAddress!.replace(/:(\d+)$/, '@$1') },
    });
    // A webhook receiver: what the notifications say about the monitor.
    hook = createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        hooked.push(JSON.parse(Buffer.concat(chunks).toString('utf8')));
        res.writeHead(200).end();
      });
    });
    await new Promise<void>((resolve) => hook.listen(0, '127.0.0.1', resolve));
    const db = await createTestDatabase();
    drop.push(() => db.drop());
    app = await startApp({
      ...net.env,
      DATABASE_URL: db.url,
      MXWATCH_DNS_SERVERS: rig.address,
      MXWATCH_DNS_PROTOCOL: 'udp',
      MXWATCH_DNS_TIMEOUT_MS: '1000',
      MXWATCH_DNSSEC_CANARY: 'canary-ok.test,www.canary-bad.test',
      MXWATCH_CHECK_TIMEOUT: '15',
      // Two sightings open a finding: here they come from two different domains' runs.
      MXWATCH_ALERT_AFTER: '2',
      MXWATCH_WEBHOOK_URL: `http://127.0.0.1:${(hook.address() as AddressInfo).port}/hook`,
    });
  });

  afterAll(async () => {
    await app?.stop();
    hook?.closeAllConnections();
    await new Promise((resolve) => hook?.close(resolve));
    await rig?.close();
    await net?.close();
    await Promise.all(drop.map((f) => f()));
  });

  it('should make every DNSSEC and DANE result untestable and raise ONE monitor finding for all domains, never a DNSSEC verdict on a domain', async () => {
    await net.addMailDomain('unsigned.test', { mx: [{ host: 'mx.unsigned.test' }] });
    await net.addMailDomain('unsigned2.test', { mx: [{ host: 'mx.unsigned2.test' }] });
    for (const name of DOMAINS) {
      const r = await app.api('POST', '/api/v1/domains', { name });
      expect(r.status, r.text).toBe(201);
    }
    let lastCheck: unknown;
    for (const round of [1, 2]) {
      for (const name of DOMAINS) {
        const c = await app.api('POST', `/api/v1/domains/${name}/check`);
        expect(c.status, c.text).toBe(200);
        lastCheck = c.body;
        const run = mine(c.body as Run);
        const dnssecCodes = run.findings.observed.filter((f) => f.code.startsWith('DNSSEC_') || f.code.startsWith('DANE_'));
        expect(dnssecCodes).toEqual([]);
        // Every run sees it, as a finding about the monitor; none is the domain's.
        expect(run.findings.observed.filter((f) => f.code === 'MONITOR_RESOLVER_NOT_VALIDATING').map((f) => [f.target, (f as { scope?: string }).scope])).toEqual([['resolver', 'monitor']]);
        expect([...run.findings.opened, ...run.findings.open].filter((f) => f.code.startsWith('MONITOR_')), `${name} round ${round}`).toEqual([]);
        expect((c.body as { findings: { pending: Array<{ code: string }> } }).findings.pending.filter((f) => f.code.startsWith('MONITOR_'))).toEqual([]);
        expect(ofProbe(run, 'dnssec')[0]).toMatchObject({ status: 'untestable', reason: 'resolver_not_validating' });
        for (const dane of ofProbe(run, 'dane')) expect(dane).toMatchObject({ status: 'untestable', reason: 'resolver_not_validating' });
      }
    }

    // One finding for three domains' six runs: no domain, opened by the second sighting.
    const all = await app.api('GET', '/api/v1/findings?code=MONITOR_RESOLVER_NOT_VALIDATING');
    expect(all.status, all.text).toBe(200);
    expect(all.body).toHaveLength(1);
    expect(all.body[0]).toMatchObject({ scope: 'monitor', domain: null, status: 'open', target: 'resolver', severity: 'warning', probe: 'dnssec' });
    expect(all.body[0].evidence).not.toHaveProperty('resultTarget');
    // As the OpenAPI document says (domain: nullable, scope).
    const doc = (await app.api('GET', '/api/docs-json')).body as OpenApiDocument;
    expect(schemaGaps(doc, responseSchema(doc, 'GET', '/api/v1/findings', 200), all.body, 'GET findings')).toEqual([]);
    expect(schemaGaps(doc, responseSchema(doc, 'POST', '/api/v1/domains/{name}/check', 200), lastCheck, 'POST check')).toEqual([]);
    const monitorOnly = await app.api('GET', '/api/v1/findings?scope=monitor');
    expect(monitorOnly.body.map((f: { code: string }) => f.code)).toEqual(['MONITOR_RESOLVER_NOT_VALIDATING']);
    for (const name of DOMAINS) {
      const own = await app.api('GET', `/api/v1/findings?domain=${name}&status=open`);
      expect(own.body.filter((f: { code: string }) => f.code.startsWith('MONITOR_'))).toEqual([]);
    }
    expect((await app.api('GET', '/api/v1/findings?domain=unsigned.test&scope=monitor')).status).toBe(400);
    expect((await app.api('GET', '/api/v1/findings?status=pending&scope=monitor')).body).toEqual([]);

    // Counted once in the metrics.
    const text = await (await fetch(`${app.baseUrl}/metrics`)).text();
    expect(metricValue(text, 'mxwatch_findings_open', { severity: 'warning', code: 'MONITOR_RESOLVER_NOT_VALIDATING' })).toBe(1);

    // The overview heads with it; no domain page lists it as its own.
    const fleet = await (await fetch(`${app.baseUrl}/`)).text();
    expect(fleet).toContain('mxwatch itself needs attention (1)');
    expect(fleet).toContain('data-code="MONITOR_RESOLVER_NOT_VALIDATING" data-severity="warning" data-scope="monitor"');
    const page = await (await fetch(`${app.baseUrl}/domains/unsigned.test`)).text();
    expect(page).toContain('data-monitor-findings="1"');
    expect(page).not.toMatch(/<li class="warning" data-code="MONITOR_/);

    // One notification, about mxwatch itself, linking to the overview.
    const deadline = Date.now() + 10_000;
    const aboutMonitor = () => hooked.filter((b) => b.scope === 'monitor');
    while (aboutMonitor().length === 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));
    await new Promise((r) => setTimeout(r, 500));
    expect(aboutMonitor()).toHaveLength(1);
    expect(aboutMonitor()[0]).toMatchObject({ event: 'opened', domain: null, labels: {}, finding: { code: 'MONITOR_RESOLVER_NOT_VALIDATING', target: 'resolver' } });
    expect(aboutMonitor()[0]!.statusUrl).toBe(`${app.baseUrl}/`);
    expect(hooked.filter((b) => b.scope !== 'monitor').flatMap((b) => b.findings.map((f: { code: string }) => f.code)).filter((c: string) => c.startsWith('MONITOR_'))).toEqual([]);
  });
});
