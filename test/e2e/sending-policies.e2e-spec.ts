import { generateKeyPairSync } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startApp, type RunningApp } from '../support/app-process.js';
import { expectExactly, ofProbe, resultOf, type CheckFinding, type CheckRun as Run } from '../support/check-run.js';
import { createFakeInternet, type FakeInternet, type MailDomainSpec } from '../support/fake-internet.js';
import { createTestDatabase } from '../support/postgres.js';

/** Every code the sending-policy probes can raise: a healthy domain shows none of them. */
const SENDING_CODES = [
  'SPF_MISSING', 'SPF_MULTIPLE_RECORDS', 'SPF_SYNTAX', 'SPF_LOOKUP_LIMIT', 'SPF_LOOKUP_NEAR_LIMIT', 'SPF_VOID_LOOKUPS', 'SPF_INCLUDE_INVALID', 'SPF_LOOP',
  'SPF_ALL_PERMISSIVE', 'SPF_PTR_MECHANISM', 'SPF_RECORD_TOO_LONG', 'SPF_RANGE_TOO_BROAD',
  'DMARC_MISSING', 'DMARC_MULTIPLE', 'DMARC_SYNTAX', 'DMARC_TAG_UNKNOWN', 'DMARC_TAG_DEPRECATED', 'DMARC_POLICY_NONE', 'DMARC_RUA_UNAUTHORIZED', 'DMARC_NO_REPORTS',
  'DKIM_KEY_MISSING', 'DKIM_KEY_INVALID', 'DKIM_KEY_REVOKED', 'DKIM_KEY_WEAK', 'DKIM_TESTING',
  'PTR_MISSING', 'PTR_FCRDNS_MISMATCH', 'HELO_NAME_INVALID', 'BIMI_RECORD_INVALID', 'BIMI_DMARC_NOT_ENFORCED', 'DNSBL_SPF_IP_LISTED',
];

/**
 * The probes this suite is about, and the ones every domain runs underneath them. Findings of
 * probes from other issues (MTA-STS, TLS-RPT, DNSSEC, ...) are their suites' business.
 */
const PROBES_HERE = new Set(['mx', 'smtp', 'starttls', 'dnsbl', 'spf', 'dmarc', 'dkim', 'ptr', 'bimi']);

/** The run's findings of PROBES_HERE only. */
function here(run: Run): Run {
  const keep = (list: CheckFinding[]) => list.filter((f) => PROBES_HERE.has((f as CheckFinding & { probe: string }).probe));
  const f = run.findings;
  return { ...run, findings: { observed: keep(f.observed), opened: keep(f.opened), resolved: keep(f.resolved), open: keep(f.open) } };
}

function rsaKey(bits: number): string {
  return generateKeyPairSync('rsa', { modulusLength: bits }).publicKey.export({ type: 'spki', format: 'der' }).toString('base64');
}

/** A TXT record as DNS carries it: character-strings of at most 255 bytes. */
function txtChunks(text: string): string[] {
  const out: string[] = [];
  for (let i = 0; i < text.length; i += 255) out.push(text.slice(i, i + 255));
  return out;
}

function metricValue(text: string, name: string, labels: Record<string, string>): number | null {
  for (const line of text.split('\n')) {
    if (!line.startsWith(`${name}{`)) continue;
    const m = /^[^{]+\{(.*)\} (\S+)$/.exec(line);
    if (!m) continue;
    const got = Object.fromEntries([...m[1]!.matchAll(/(\w+)="((?:[^"\\]|\\.)*)"/g)].map((x) => [x[1], x[2]]));
    if (Object.entries(labels).every(([k, v]) => got[k] === v)) return Number(m[2]);
  }
  return null;
}

describe('Sending side: SPF, DMARC, DKIM, PTR and BIMI findings over HTTP', () => {
  let net: FakeInternet;
  let app: RunningApp;
  let dropDb: () => Promise<void>;
  let rsa2048: string;
  let rsa1024: string;

  async function addDomain(name: string, spec: MailDomainSpec, body: Record<string, unknown> = {}) {
    const d = await net.addMailDomain(name, { mx: [{ host: `mx.${name}` }], ...spec });
    const r = await app.api('POST', '/api/v1/domains', { name, ...body });
    expect(r.status, r.text).toBe(201);
    return d;
  }

  async function check(name: string): Promise<Run> {
    const r = await app.api('POST', `/api/v1/domains/${name}/check`);
    expect(r.status, r.text).toBe(200);
    return here(r.body as Run);
  }

  /** n includes of third-party records without lookups of their own. */
  function publishIncludes(prefix: string, n: number): string {
    const terms: string[] = [];
    for (let i = 1; i <= n; i++) {
      net.dns.setRecords(`${prefix}${i}.vendor.test`, 'TXT', [`v=spf1 ip4:198.51.100.${i} -all`]);
      terms.push(`include:${prefix}${i}.vendor.test`);
    }
    return terms.join(' ');
  }

  beforeAll(async () => {
    rsa2048 = rsaKey(2048);
    rsa1024 = rsaKey(1024);
    net = await createFakeInternet();
    const db = await createTestDatabase();
    dropDb = () => db.drop();
    app = await startApp({ ...net.env, DATABASE_URL: db.url });
  });

  afterAll(async () => {
    await app?.stop();
    await net?.close();
    await dropDb?.();
  });

  it('should find nothing wrong with a healthy domain, with every sending probe run and its metrics set', async () => {
    const out = net.allocateIp();
    const name = 'healthy.test';
    net.dns.setRecords(`out.${name}`, 'A', [out]);
    net.ptr(out, `out.${name}`);
    net.dns.setRecords(`_spf.${name}`, 'TXT', [`v=spf1 ip4:${out} -all`]);
    net.dns.setRecords(`s1._domainkey.${name}`, 'TXT', [txtChunks(`v=DKIM1; k=rsa; p=${rsa2048}`) as never]);
    net.dns.setRecords(`default._bimi.${name}`, 'TXT', ['v=BIMI1; l=https://brand.healthy.test/logo.svg; a=']);
    const d = await addDomain(
      name,
      { spf: `v=spf1 mx include:_spf.${name} include:spf.provider.test ~all`, dmarc: `v=DMARC1; p=reject; rua=mailto:dmarc@${name}` },
      { dkimSelectors: ['S1'] },
    );
    net.dns.setRecords('spf.provider.test', 'TXT', ['v=spf1 ip4:100.64.0.0/24 -all']);
    const run = await check(name);
    expect(run.findings.observed, JSON.stringify(run.findings.observed)).toEqual([]);
    expect(run.findings.open).toEqual([]);
    for (const probe of ['spf', 'dmarc', 'dkim', 'ptr', 'bimi']) {
      expect(ofProbe(run, probe).length, probe).toBeGreaterThan(0);
      for (const r of ofProbe(run, probe)) expect([r.target, r.status], `${probe} ${r.reason}`).toEqual([r.target, 'pass']);
    }
    const spf = resultOf(run, 'spf', name)!;
    expect(spf.details).toMatchObject({ lookups: 3, thirdPartyIncludes: ['spf.provider.test'] });
    expect(spf.details.ownNetworks.sort()).toEqual([`${d.mx[0]!.ip}/32`, `${out}/32`].sort());
    expect(resultOf(run, 'dkim', `s1._domainkey.${name}`)?.details).toMatchObject({ bits: 2048, keyType: 'rsa' });
    // The MX address, and the sending address the domain's own SPF part names.
    expect(ofProbe(run, 'ptr').map((r) => [r.target, r.details.roles.join('+'), r.details.fcrdns]).sort()).toEqual(
      [[d.mx[0]!.ip, 'mx+sending', true], [out, 'sending', true]].sort(),
    );
    const domain = await app.api('GET', `/api/v1/domains/${name}`);
    expect(domain.body.dkimSelectors).toEqual(['s1']);

    const metrics = await (await fetch(`${app.baseUrl}/metrics`)).text();
    expect(metricValue(metrics, 'mxwatch_spf_dns_lookups', { domain: name })).toBe(3);
    expect(metricValue(metrics, 'mxwatch_dmarc_policy_info', { domain: name, policy: 'reject' })).toBe(1);
    expect(metricValue(metrics, 'mxwatch_dkim_key_bits', { domain: name, selector: 's1' })).toBe(2048);
  });

  describe('SPF', () => {
    it('should raise SPF_LOOKUP_LIMIT for eleven lookups, naming the count and the heaviest include', async () => {
      const name = 'spf-limit.test';
      net.dns.setRecords(`_spf.${name}`, 'TXT', [`v=spf1 ${publishIncludes('lim', 7)} -all`]);
      await addDomain(name, { spf: `v=spf1 include:_spf.${name} ${publishIncludes('lim-extra', 3)} -all` });
      const run = await check(name);
      expectExactly(run, [['SPF_LOOKUP_LIMIT', name, 'critical']]);
      const f = run.findings.observed[0]!;
      expect(f.message).toContain('11 DNS lookups');
      expect(f.message).toContain(`include:_spf.${name} contributes most (8)`);
      expect(resultOf(run, 'spf', name)).toMatchObject({ status: 'fail', details: { lookups: 11 } });
    });

    it('should raise SPF_LOOKUP_NEAR_LIMIT at nine lookups', async () => {
      const name = 'spf-near.test';
      await addDomain(name, { spf: `v=spf1 ${publishIncludes('near', 9)} -all` });
      expectExactly(await check(name), [['SPF_LOOKUP_NEAR_LIMIT', name, 'warning']]);
    });

    it('should raise SPF_MULTIPLE_RECORDS for two SPF records', async () => {
      const name = 'spf-two.test';
      await addDomain(name, { txt: ['v=spf1 -all', 'v=spf1 ~all'] });
      expectExactly(await check(name), [['SPF_MULTIPLE_RECORDS', name, 'critical']]);
    });

    it('should raise SPF_ALL_PERMISSIVE as critical for +all and SPF_RANGE_TOO_BROAD for a /8', async () => {
      const name = 'spf-open.test';
      await addDomain(name, { spf: 'v=spf1 ip4:10.0.0.0/8 +all' });
      expectExactly(await check(name), [['SPF_ALL_PERMISSIVE', name, 'critical'], ['SPF_RANGE_TOO_BROAD', name, 'warning']]);
    });

    it('should raise SPF_LOOP for a cycle and SPF_INCLUDE_INVALID for an include without SPF', async () => {
      const name = 'spf-loop.test';
      net.dns.setRecords(`a.${name}`, 'TXT', [`v=spf1 include:b.${name} -all`]);
      net.dns.setRecords(`b.${name}`, 'TXT', [`v=spf1 include:a.${name} -all`]);
      net.dns.setRecords(`c.${name}`, 'TXT', ['not spf']);
      await addDomain(name, { spf: `v=spf1 include:a.${name} include:c.${name} -all` });
      expectExactly(await check(name), [['SPF_INCLUDE_INVALID', name, 'critical'], ['SPF_LOOP', name, 'critical']]);
    });

    it('should raise SPF_VOID_LOOKUPS, SPF_PTR_MECHANISM and SPF_SYNTAX where they apply', async () => {
      const name = 'spf-void.test';
      await addDomain(name, { spf: `v=spf1 ptr a:gone1.${name} a:gone2.${name} exists:gone3.${name} -all` });
      expectExactly(await check(name), [['SPF_PTR_MECHANISM', name, 'warning'], ['SPF_VOID_LOOKUPS', name, 'critical']]);
      const bad = 'spf-syntax.test';
      await addDomain(bad, { spf: 'v=spf1 ip4:192.0.2.0/33 foo -all' });
      expectExactly(await check(bad), [['SPF_SYNTAX', bad, 'critical']]);
    });

    it('should raise SPF_MISSING as a warning, and as info on a null-MX domain', async () => {
      await addDomain('spf-none.test', { spf: null });
      expectExactly(await check('spf-none.test'), [['SPF_MISSING', 'spf-none.test', 'warning']]);
      await addDomain('spf-nullmx.test', { mx: [], nullMx: true, spf: null });
      expectExactly(await check('spf-nullmx.test'), [['MX_NULL', 'spf-nullmx.test', 'info'], ['SPF_MISSING', 'spf-nullmx.test', 'info']]);
    });

    it('should be untestable, raising nothing, when an include\'s lookup fails on our side, and keep the finding open', async () => {
      const name = 'spf-servfail.test';
      net.dns.setRecords(`_spf.${name}`, 'TXT', ['v=spf1 +all']);
      await addDomain(name, { spf: `v=spf1 include:_spf.${name} -all` });
      expectExactly(await check(name), [['SPF_ALL_PERMISSIVE', name, 'critical']]);
      net.dns.setFault(`_spf.${name}`, { rcode: 'SERVFAIL' });
      const run = await check(name);
      expect(resultOf(run, 'spf', name)).toMatchObject({ status: 'untestable', reason: 'dns_servfail' });
      expect(run.findings.observed).toEqual([]);
      expect(run.findings.resolved).toEqual([]);
      expect(run.findings.open.map((f) => f.code)).toEqual(['SPF_ALL_PERMISSIVE']);
    });
  });

  it('should raise DNSBL_SPF_IP_LISTED for a listed address only SPF names, while a configured sending IP keeps DNSBL_LISTED', async () => {
    const name = 'spf-listed.test';
    const spfIp = net.allocateIp();
    const configured = net.allocateIp();
    for (const [ip, host] of [[spfIp, `out1.${name}`], [configured, `out2.${name}`]] as const) {
      net.dns.setRecords(host, 'A', [ip]);
      net.ptr(ip, host);
      net.dnsbl('zen.spamhaus.org').listIp(ip, { codes: ['127.0.0.2'], txt: 'https://check.spamhaus.org/' });
    }
    await addDomain(name, { spf: `v=spf1 ip4:${spfIp} ip4:${configured} -all` }, { sendingIps: [configured] });
    const run = await check(name);
    expectExactly(run, [
      ['DNSBL_LISTED', `${configured}@zen.spamhaus.org`, 'critical'],
      ['DNSBL_SPF_IP_LISTED', `${spfIp}@zen.spamhaus.org`, 'warning'],
    ]);
    expect(run.findings.observed.find((f) => f.code === 'DNSBL_SPF_IP_LISTED')!.message).toContain('SPF record authorises');
  });

  describe('DMARC', () => {
    it('should raise DMARC_POLICY_NONE and DMARC_RUA_UNAUTHORIZED, and accept a wildcard authorisation', async () => {
      const name = 'dmarc-none.test';
      await addDomain(name, { dmarc: 'v=DMARC1; p=none; rua=mailto:a@reports.vendor.test,mailto:b@agg.other.test' });
      net.dns.setRecords('*._report._dmarc.agg.other.test', 'TXT', ['v=DMARC1']);
      expectExactly(await check(name), [['DMARC_POLICY_NONE', name, 'warning'], ['DMARC_RUA_UNAUTHORIZED', name, 'warning']]);
    });

    it('should raise DMARC_MISSING, and DMARC_MULTIPLE without falling back to the organisational domain', async () => {
      await addDomain('dmarc-gone.test', { dmarc: null });
      expectExactly(await check('dmarc-gone.test'), [['DMARC_MISSING', 'dmarc-gone.test', 'warning']]);
      await addDomain('dmarc-two.test', {});
      net.dns.setRecords('_dmarc.dmarc-two.test', 'TXT', ['v=DMARC1; p=reject; rua=mailto:d@dmarc-two.test', 'v=DMARC1; p=none']);
      expectExactly(await check('dmarc-two.test'), [['DMARC_MULTIPLE', 'dmarc-two.test', 'critical']]);
    });

    it('should apply sp of the organisational record to a monitored subdomain, and treat pct and unknown tags as info', async () => {
      await addDomain('sub.dmarc-org.test', { dmarc: null });
      net.dns.setRecords('_dmarc.dmarc-org.test', 'TXT', ['v=DMARC1; p=reject; sp=none; pct=100; foo=bar; rua=mailto:d@dmarc-org.test']);
      const run = await check('sub.dmarc-org.test');
      expectExactly(run, [
        ['DMARC_POLICY_NONE', 'sub.dmarc-org.test', 'warning'],
        ['DMARC_TAG_DEPRECATED', 'sub.dmarc-org.test', 'info'],
        ['DMARC_TAG_UNKNOWN', 'sub.dmarc-org.test', 'info'],
      ]);
      expect(resultOf(run, 'dmarc', 'sub.dmarc-org.test')?.details).toMatchObject({ recordName: '_dmarc.dmarc-org.test', policyTag: 'sp', effectivePolicy: 'none' });
    });
  });

  it('should check only the DKIM selectors named: missing, weak, revoked and testing keys', async () => {
    const name = 'dkim.test';
    net.dns.setRecords(`weak._domainkey.${name}`, 'TXT', [`v=DKIM1; k=rsa; p=${rsa1024}`]);
    net.dns.setRecords(`old._domainkey.${name}`, 'TXT', ['v=DKIM1; k=rsa; p=']);
    net.dns.setRecords(`test._domainkey.${name}`, 'CNAME', [`test.dkim.provider.test`]);
    net.dns.setRecords('test.dkim.provider.test', 'TXT', [txtChunks(`v=DKIM1; t=y; p=${rsa2048}`) as never]);
    // A key no selector names is never looked at.
    net.dns.setRecords(`default._domainkey.${name}`, 'TXT', ['v=DKIM2; p=broken']);
    await addDomain(name, {}, { dkimSelectors: ['gone', 'weak', 'old', 'test'] });
    const run = await check(name);
    expectExactly(run, [
      ['DKIM_KEY_MISSING', `gone._domainkey.${name}`, 'critical'],
      ['DKIM_KEY_REVOKED', `old._domainkey.${name}`, 'info'],
      ['DKIM_KEY_WEAK', `weak._domainkey.${name}`, 'warning'],
      ['DKIM_TESTING', `test._domainkey.${name}`, 'info'],
    ]);
    expect(ofProbe(run, 'dkim').map((r) => r.target).sort()).toEqual(['gone', 'old', 'test', 'weak'].map((s) => `${s}._domainkey.${name}`));

    const patched = await app.api('PATCH', `/api/v1/domains/${name}`, { dkimSelectors: ['test'] });
    expect(patched.status, patched.text).toBe(200);
    expect(patched.body.dkimSelectors).toEqual(['test']);
    const refused = await app.api('PATCH', `/api/v1/domains/${name}`, { dkimSelectors: ['s1._domainkey.dkim.test'] });
    expect(refused.status).toBe(400);
  });

  describe('PTR and greeting names', () => {
    it('should raise PTR_MISSING as info for an MX address and a warning for a configured sending address', async () => {
      const name = 'ptr-none.test';
      const sending = net.allocateIp();
      const d = await addDomain(name, { mx: [{ host: `mx.${name}`, ptr: null }] }, { sendingIps: [sending] });
      expectExactly(await check(name), [['PTR_MISSING', d.mx[0]!.ip!, 'info'], ['PTR_MISSING', sending, 'warning']]);
    });

    it('should raise PTR_FCRDNS_MISMATCH for a PTR name that does not resolve back', async () => {
      const name = 'ptr-wrong.test';
      const d = await addDomain(name, { mx: [{ host: `mx.${name}`, ptr: 'generic.isp.test' }] });
      net.dns.setRecords('generic.isp.test', 'A', ['127.255.255.254']);
      expectExactly(await check(name), [['PTR_FCRDNS_MISMATCH', d.mx[0]!.ip!, 'warning']]);
    });

    it('should raise HELO_NAME_INVALID for a server greeting with a bare host name', async () => {
      const name = 'helo.test';
      const d = await addDomain(name, { mx: [{ host: `mx.${name}`, certName: 'mailhost' }] });
      const run = await check(name);
      const ip = d.mx[0]!.ip!;
      const helo = run.findings.observed.filter((f) => f.code === 'HELO_NAME_INVALID');
      expect(helo.map((f) => [f.target, f.severity])).toEqual([[ip, 'warning']]);
      expect(helo[0]!.message).toContain('"mailhost"');
      // The certificate names "mailhost" too: that is the STARTTLS probe's finding, not ours.
      expect(run.findings.observed.filter((f) => SENDING_CODES.includes(f.code)).map((f) => f.code)).toEqual(['HELO_NAME_INVALID']);
    });
  });

  describe('BIMI', () => {
    it('should raise BIMI_DMARC_NOT_ENFORCED beside DMARC_POLICY_NONE, and BIMI_RECORD_INVALID for an http logo', async () => {
      const name = 'bimi.test';
      net.dns.setRecords(`default._bimi.${name}`, 'TXT', ['v=BIMI1; l=https://brand.bimi.test/logo.svg']);
      await addDomain(name, { dmarc: `v=DMARC1; p=none; rua=mailto:d@${name}` });
      expectExactly(await check(name), [['BIMI_DMARC_NOT_ENFORCED', name, 'warning'], ['DMARC_POLICY_NONE', name, 'warning']]);
      const bad = 'bimi-bad.test';
      net.dns.setRecords(`default._bimi.${bad}`, 'TXT', ['v=BIMI1; l=http://brand.bimi.test/logo.svg']);
      await addDomain(bad, {});
      expectExactly(await check(bad), [['BIMI_RECORD_INVALID', bad, 'warning']]);
    });
  });
});
