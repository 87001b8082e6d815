/**
 * The DNS and DNSBL scenarios over classic DNS (issue 11): the service talks UDP (TCP after a
 * truncated answer) or TCP alone to the fake DNS, behind a first server that drops every query.
 * Hostile answers (a forged id, an answer that stops at a CNAME, a truncated one) must not change
 * the findings a healthy or listed domain gets. And Spamhaus through its Data Query Service: the
 * questions go to `<key>.zen.dq.spamhaus.net`, the key shows nowhere.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FakeDnsbl } from '../rig/dns/dnsbl-zone.js';
import { FakeDnsServer } from '../rig/dns/fake-dns-server.js';
import { startApp, type RunningApp } from '../support/app-process.js';
import { findingKeys, ofProbe, type CheckFinding, type CheckRun as Run } from '../support/check-run.js';
import { createFakeInternet, type FakeInternet, type MailDomainSpec } from '../support/fake-internet.js';
import { createTestDatabase } from '../support/postgres.js';

const PROTOCOLS = ['udp', 'tcp'] as const;
type Protocol = (typeof PROTOCOLS)[number];
const DQS_KEY = 'e2edqskey0123456789abcdefg';

/** The probes this suite is about; other probes (SPF, MTA-STS, DNSSEC, ...) have suites of their own. */
const DNS_SIDE = new Set(['mx', 'dnsbl', 'smtp', 'starttls']);

/** The run observed, and has open, exactly these findings of the DNS-side probes. */
function expectDnsFindings(run: Run, expected: Array<[code: string, target: string]>): void {
  const ours = (fs: CheckFinding[]) => findingKeys(fs.filter((f) => DNS_SIDE.has((f as CheckFinding & { probe: string }).probe)));
  const want = expected.map(([c, t]) => `${c} ${t}`).sort();
  expect(ours(run.findings.observed)).toEqual(want);
  expect(ours(run.findings.open)).toEqual(want);
}

/** None of the DNS-side probes failed or warned. */
function dnsSideStatuses(run: Run): string[] {
  return [...new Set(run.results.filter((r) => DNS_SIDE.has(r.probe)).map((r) => r.status))].sort();
}

describe('DNS transports: the DNS and DNSBL scenarios over UDP and TCP', () => {
  let net: FakeInternet;
  let dropper: FakeDnsServer;
  const apps = new Map<Protocol | 'dqs', RunningApp>();
  let drop: Array<() => Promise<void>> = [];

  async function addDomain(app: RunningApp, name: string, spec: MailDomainSpec) {
    const d = await net.addMailDomain(name, spec);
    const r = await app.api('POST', '/api/v1/domains', { name });
    expect(r.status, r.text).toBe(201);
    return d;
  }

  async function check(app: RunningApp, name: string): Promise<Run> {
    const r = await app.api('POST', `/api/v1/domains/${name}/check`);
    expect(r.status, r.text).toBe(200);
    return r.body as Run;
  }

  beforeAll(async () => {
    net = await createFakeInternet({ dnsProtocol: 'udp' });
    // A first resolver that never answers (UDP or TCP): every lookup must fail over to the second.
    dropper = await FakeDnsServer.start({ host: '127.0.0.1', http: false });
    dropper.setFault('*', { drop: true });
    FakeDnsbl.spamhausDqs(net.dns, DQS_KEY, 'zen.spamhaus.org', { ttl: 0, negativeTtl: 0 });
    FakeDnsbl.spamhausDqs(net.dns, DQS_KEY, 'dbl.spamhaus.org', { ttl: 0, negativeTtl: 0 });

    const dbs = await Promise.all([createTestDatabase(), createTestDatabase(), createTestDatabase()]);
    drop = dbs.map((db) => () => db.drop());
    const servers = `${dropper.udpAddress},${net.dns.udpAddress}`;
    const [udp, tcp, dqs] = await Promise.all([
      startApp({ ...net.env, DATABASE_URL: dbs[0]!.url, MXWATCH_DNS_SERVERS: servers, MXWATCH_DNS_PROTOCOL: 'udp' }),
      startApp({ ...net.env, DATABASE_URL: dbs[1]!.url, MXWATCH_DNS_SERVERS: servers, MXWATCH_DNS_PROTOCOL: 'tcp' }),
      startApp({ ...net.env, DATABASE_URL: dbs[2]!.url, MXWATCH_DNS_PROTOCOL: 'udp', MXWATCH_SPAMHAUS_DQS_KEY: DQS_KEY }),
    ]);
    apps.set('udp', udp).set('tcp', tcp).set('dqs', dqs);
  });

  afterAll(async () => {
    await Promise.all([...apps.values()].map((a) => a.stop()));
    await dropper?.close();
    await net?.close();
    await Promise.all(drop.map((f) => f()));
  });

  describe.each(PROTOCOLS)('over %s', (protocol) => {
    const app = () => apps.get(protocol)!;
    const name = (label: string) => `${label}-${protocol}.test`;

    it('should fail over from a server that drops every query and find nothing wrong with a healthy domain', async () => {
      const domain = name('healthy');
      const d = await addDomain(app(), domain, { mx: [{ host: `mx.${domain}` }] });
      net.dns.clearLog();
      const run = await check(app(), domain);
      expectDnsFindings(run, []);
      expect(dnsSideStatuses(run)).toEqual(['pass']);
      expect(ofProbe(run, 'mx')[0]!.details.hosts[0]).toMatchObject({ host: `mx.${domain}`, addresses: [d.mx[0]!.ip] });
      expect(ofProbe(run, 'dnsbl').map((r) => [r.target, r.status]).sort()).toEqual(
        [`${d.mx[0]!.ip}@zen.spamhaus.org`, `${domain}@dbl.spamhaus.org`].map((t) => [t, 'pass']).sort(),
      );
      expect(dropper.queries.some((q) => q.transport === protocol)).toBe(true);
      expect(net.dns.queries.length).toBeGreaterThan(0);
      expect(new Set(net.dns.queries.map((q) => q.transport))).toEqual(new Set([protocol]));
    });

    it('should raise MX_NXDOMAIN and DNSBL_LISTED as over DoH', async () => {
      await addDomain(app(), name('nx'), { nxdomain: true });
      expectDnsFindings(await check(app(), name('nx')), [['MX_NXDOMAIN', name('nx')]]);

      const listed = name('listed');
      const d = await addDomain(app(), listed, { mx: [{ host: `mx.${listed}` }] });
      const ip = d.mx[0]!.ip!;
      net.dnsbl('zen.spamhaus.org').listIp(ip, { codes: ['127.0.0.2'], txt: 'listed for the e2e' });
      try {
        const run = await check(app(), listed);
        expectDnsFindings(run, [['DNSBL_LISTED', `${ip}@zen.spamhaus.org`]]);
        expect(run.findings.observed.find((f) => f.code === 'DNSBL_LISTED')!.message).toContain('listed for the e2e');
      } finally {
        net.dnsbl('zen.spamhaus.org').unlist(ip);
      }
    });

    it('should follow an answer that stops at a CNAME (unbound local data) to the address', async () => {
      const domain = name('cnameonly');
      const d = await addDomain(app(), domain, { mx: [{ host: `alias.${domain}`, cnameTo: `real.${domain}` }] });
      net.dns.setFault(domain, { cnameOnly: true });
      try {
        const run = await check(app(), domain);
        expectDnsFindings(run, [['MX_TARGET_CNAME', `alias.${domain}`]]);
        expect(ofProbe(run, 'mx')[0]!.details.hosts[0]).toMatchObject({ host: `alias.${domain}`, addresses: [d.mx[0]!.ip] });
        expect(ofProbe(run, 'smtp').find((r) => r.target === `alias.${domain}[${d.mx[0]!.ip}]:25`)).toMatchObject({ status: 'pass' });
      } finally {
        net.dns.clearFault(domain);
      }
    });

    it('should drop answers with a forged id: the real answer that follows counts, a forged one alone is no answer', async () => {
      const domain = name('forged');
      const d = await addDomain(app(), domain, { mx: [{ host: `mx.${domain}` }] });
      const ip = d.mx[0]!.ip!;
      net.dns.setFault(domain, { mismatch: 'id', thenAnswer: true });
      // The list's only answer for this address is forged (it says "listed"): it must be ignored.
      const listName = net.dnsbl('zen.spamhaus.org').nameOf(ip);
      net.dnsbl('zen.spamhaus.org').listIp(ip, { codes: ['127.0.0.2'] });
      net.dns.setFault(listName, { mismatch: 'id' });
      try {
        const run = await check(app(), domain);
        expectDnsFindings(run, []);
        expect(ofProbe(run, 'mx')[0]).toMatchObject({ status: 'pass' });
        expect(ofProbe(run, 'dnsbl').find((r) => r.target === `${ip}@zen.spamhaus.org`)).toMatchObject({ status: 'untestable', reason: 'dns_timeout' });
      } finally {
        net.dns.clearFault(domain).clearFault(listName);
        net.dnsbl('zen.spamhaus.org').unlist(ip);
      }
    });

    it(protocol === 'udp' ? 'should ask again over TCP when the UDP answer is truncated' : 'should never see truncation over TCP', async () => {
      const domain = name('truncated');
      const d = await addDomain(app(), domain, { mx: [{ host: `mx.${domain}` }] });
      net.dns.setFault(domain, { truncate: true });
      net.dns.clearLog();
      try {
        const run = await check(app(), domain);
        expectDnsFindings(run, []);
        expect(ofProbe(run, 'mx')[0]!.details.hosts[0]).toMatchObject({ addresses: [d.mx[0]!.ip] });
        const mxQueries = net.dns.queries.filter((q) => q.name === domain && q.type === 'MX').map((q) => [q.transport, q.outcome]);
        expect(mxQueries).toEqual(protocol === 'udp' ? [['udp', 'TRUNCATED'], ['tcp', 'NOERROR']] : [['tcp', 'NOERROR']]);
      } finally {
        net.dns.clearFault(domain);
      }
    });
  });

  describe('Spamhaus DQS', () => {
    const app = () => apps.get('dqs')!;

    it('should ask zen and dbl at <key>.<list>.dq.spamhaus.net and report them as zen.spamhaus.org, with the key nowhere', async () => {
      const domain = 'dqs-listed.test';
      const d = await addDomain(app(), domain, { mx: [{ host: `mx.${domain}` }] });
      const ip = d.mx[0]!.ip!;
      const dqsZen = new FakeDnsbl(net.dns, `${DQS_KEY}.zen.dq.spamhaus.net`, 'ip', 0, 0);
      dqsZen.listIp(ip, { codes: ['127.0.0.4'], txt: 'exploited host' });
      // The public zone says "refused" for everything: asking it would show in the findings.
      net.dnsbl('zen.spamhaus.org').listIp(ip, { codes: ['127.255.255.254'] });
      net.dns.clearLog();
      try {
        const run = await check(app(), domain);
        expectDnsFindings(run, [['DNSBL_LISTED', `${ip}@zen.spamhaus.org`]]);
        expect(run.findings.observed.find((f) => f.code === 'DNSBL_LISTED')!.message).toContain('XBL');
        const asked = net.dns.queries.map((q) => q.name);
        expect(asked).toContain(`${ip.split('.').reverse().join('.')}.${DQS_KEY}.zen.dq.spamhaus.net`);
        expect(asked).toContain(`${domain}.${DQS_KEY}.dbl.dq.spamhaus.net`);
        expect(asked.filter((n) => n.endsWith('.zen.spamhaus.org') || n.endsWith('.dbl.spamhaus.org'))).toEqual([]);

        const seen = [
          JSON.stringify(run),
          (await app().api('GET', `/api/v1/domains/${domain}/status`)).text,
          (await app().api('GET', `/api/v1/findings?domain=${domain}`)).text,
          (await app().api('GET', `/api/v1/domains/${domain}/checks`)).text,
          await (await fetch(`${app().baseUrl}/metrics`)).text(),
          app().output(),
        ];
        for (const text of seen) expect(text).not.toContain(DQS_KEY);
        expect(app().output()).toMatch(/dqs|DQS/);
      } finally {
        dqsZen.unlist(ip);
        net.dnsbl('zen.spamhaus.org').unlist(ip);
      }
    });
  });
});
