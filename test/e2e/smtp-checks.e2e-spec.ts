import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startApp, type RunningApp } from '../support/app-process.js';
import { CORE_PROBES, createFakeInternet, type FakeInternet, type MailDomainSpec, type MxSpec, type PortBehaviour } from '../support/fake-internet.js';
import { createTestDatabase } from '../support/postgres.js';
import { expectExactly, findingKeys, ofProbe, resultOf, type CheckResult, type CheckRun as Run } from '../support/check-run.js';

const CHECK_TIMEOUT_S = 6;


describe('SMTP side: port, banner, STARTTLS and certificate findings over HTTP', () => {
  let net: FakeInternet;
  let app: RunningApp;
  let dropDb: () => Promise<void>;

  async function addDomain(name: string, spec: MailDomainSpec, body: Record<string, unknown> = {}) {
    const d = await net.addMailDomain(name, spec);
    const r = await app.api('POST', '/api/v1/domains', { name, ...body });
    expect(r.status, r.text).toBe(201);
    return d;
  }

  async function check(name: string): Promise<Run> {
    const r = await app.api('POST', `/api/v1/domains/${name}/check`);
    expect(r.status, r.text).toBe(200);
    return r.body as Run;
  }

  /** A domain with one MX `mx.<name>` serving `behaviour25` on port 25; returns the run and the endpoint target. */
  async function scenario(name: string, behaviour25: PortBehaviour, more: Partial<MxSpec> = {}) {
    const d = await addDomain(name, { mx: [{ host: `mx.${name}`, behaviour25, ...more }] });
    const ip = d.mx[0]!.ip!;
    const run = await check(name);
    return { run, ip, t25: `mx.${name}[${ip}]:25` };
  }

  beforeAll(async () => {
    // DoH over https: NODE_EXTRA_CA_CERTS carries both the DNS CA and the mail servers' CA.
    net = await createFakeInternet({ dnsProtocol: 'https' });
    const db = await createTestDatabase();
    dropDb = () => db.drop();
    app = await startApp({ ...net.env, MXWATCH_PROBES: CORE_PROBES, DATABASE_URL: db.url });
  });

  afterAll(async () => {
    await app?.stop();
    await net?.close();
    await dropDb?.();
  });

  it('should find nothing wrong with a healthy domain, and record transcript, timings, TLS version, cipher and certificate dates', async () => {
    const { run, ip, t25 } = await scenario('healthy.test', 'good');
    expect(run.findings.observed).toEqual([]);
    expect(run.findings.open).toEqual([]);
    expect(run.status).toBe('pass');

    const smtp = resultOf(run, 'smtp', t25)!;
    expect(smtp).toMatchObject({ status: 'pass', details: { open: true, role: 'mx', bannerCode: 220, ehloOk: true } });
    expect(smtp.details.capabilities).toContain('STARTTLS');
    expect(smtp.details.transcript.join('\n')).toMatch(/^\* connected to .*\nS: 220 /);
    expect(smtp.details.transcript).toEqual(expect.arrayContaining(['C: EHLO probe.mxwatch.test', 'C: STARTTLS', 'C[tls]: EHLO probe.mxwatch.test']));
    for (const k of ['connectMs', 'bannerMs', 'ehloMs', 'starttlsMs', 'tlsHandshakeMs', 'ehlo2Ms']) expect(typeof smtp.details.timings[k], k).toBe('number');

    const tls = resultOf(run, 'starttls', t25)!;
    expect(tls).toMatchObject({ status: 'pass', details: { offered: true, handshakeOk: true, trusted: true, nameMatch: true, authorizationError: null, implicitTls: false } });
    expect(tls.details.tlsVersion).toMatch(/^TLSv1\.[23]$/);
    expect(tls.details.cipher).toEqual(expect.any(String));
    expect(Date.parse(tls.details.cert.notBefore)).toBeLessThan(Date.now());
    expect(Date.parse(tls.details.cert.notAfter)).toBeGreaterThan(Date.now());
    expect(tls.details.cert.sans).toEqual(['DNS:mx.healthy.test']);

    // 587 and 465 closed on a plain MX is normal: no finding, and no result row either (issue 15:
    // storage proportional to what was probed), only a line of the run's facts.
    for (const port of [587, 465]) {
      expect(resultOf(run, 'smtp', `mx.healthy.test[${ip}]:${port}`)).toBeUndefined();
      expect(run.facts).toContain(`smtp mx.healthy.test[${ip}]:${port} port_closed_not_required`);
      expect(resultOf(run, 'starttls', `mx.healthy.test[${ip}]:${port}`)).toBeUndefined();
    }

    const status = await app.api('GET', '/api/v1/domains/healthy.test/status');
    expect(status.body.openFindings).toEqual([]);
    expect(status.body.probes.smtp.status).toBe('pass');
    expect(status.body.probes.starttls.results.map((r: CheckResult) => r.target)).toEqual([t25]);
  });

  describe('ports', () => {
    it('should raise a critical SMTP_PORT_UNREACHABLE for port 25 closed on an MX', async () => {
      const { run, t25 } = await scenario('closed25.test', 'closed');
      expectExactly(run, [['SMTP_PORT_UNREACHABLE', t25, 'critical']]);
      expect(resultOf(run, 'smtp', t25)).toMatchObject({ status: 'fail', reason: 'connect_refused', details: { open: false } });
      expect(resultOf(run, 'starttls', t25)).toBeUndefined();
    });

    it('should raise a warning SMTP_PORT_UNREACHABLE for 587 closed on a declared submission host', async () => {
      const mx = await net.addMailDomain('closed587.test', { mx: [{ host: 'mx.closed587.test' }] });
      const sub = await net.addHost({ host: 'submit.closed587.test', behaviour25: 'closed', behaviour587: 'closed', behaviour465: 'implicit-tls' });
      expect((await app.api('POST', '/api/v1/domains', { name: 'closed587.test', submissionHosts: ['submit.closed587.test'] })).status).toBe(201);
      const run = await check('closed587.test');
      expectExactly(run, [['SMTP_PORT_UNREACHABLE', `submit.closed587.test[${sub.ip}]:587`, 'warning']]);
      expect(resultOf(run, 'smtp', `submit.closed587.test[${sub.ip}]:587`)).toMatchObject({ status: 'fail', details: { role: 'submission', open: false } });
      expect(resultOf(run, 'starttls', `submit.closed587.test[${sub.ip}]:465`)).toMatchObject({ status: 'pass', details: { implicitTls: true, handshakeOk: true } });
      // A declared submission host is probed on the submission ports only.
      expect(resultOf(run, 'smtp', `submit.closed587.test[${sub.ip}]:25`)).toBeUndefined();
      expect(run.facts).toContain(`smtp mx.closed587.test[${mx.mx[0]!.ip}]:587 port_closed_not_required`);
    });

    it('should probe a submission host found through _submission._tcp on its port, and the _submissions._tcp one with implicit TLS', async () => {
      const d = await addDomain('srv.test', {
        mx: [{ host: 'mx.srv.test' }],
        submissionSrv: [{ host: 'submit.srv.test', port: 587 }],
        submissionsSrv: [{ host: 'tls.srv.test', port: 465 }],
      });
      const run = await check('srv.test');
      expect(run.findings.observed).toEqual([]);
      const [submit, implicit] = d.submission;
      expect(ofProbe(run, 'smtp').filter((r) => r.details.role === 'submission').map((r) => r.target).sort()).toEqual(
        [`submit.srv.test[${submit!.ip}]:587`, `tls.srv.test[${implicit!.ip}]:465`].sort(),
      );
      expect(resultOf(run, 'smtp', `submit.srv.test[${submit!.ip}]:587`)).toMatchObject({ status: 'pass', details: { open: true, role: 'submission' } });
      expect(resultOf(run, 'starttls', `submit.srv.test[${submit!.ip}]:587`)).toMatchObject({ status: 'pass', details: { implicitTls: false, nameMatch: true } });
      expect(resultOf(run, 'starttls', `tls.srv.test[${implicit!.ip}]:465`)).toMatchObject({ status: 'pass', details: { implicitTls: true, trusted: true } });
      expect(net.connections(submit!.ip!)[587]).toBeGreaterThan(0);
      expect(net.connections(implicit!.ip!)[465]).toBeGreaterThan(0);
    });
  });

  describe('banner and EHLO', () => {
    it('should raise SMTP_BANNER_REJECT for a 554 banner', async () => {
      const { run, t25 } = await scenario('reject554.test', 'reject-554');
      expectExactly(run, [['SMTP_BANNER_REJECT', t25, 'critical']]);
      expect(run.findings.observed[0]!.message).toContain('554 5.7.1');
      expect(resultOf(run, 'starttls', t25)).toBeUndefined();
    });

    it('should raise SMTP_SLOW_BANNER for a banner slower than MXWATCH_SLOW_BANNER_MS', async () => {
      const { run, t25 } = await scenario('slow.test', 'slow-banner', { bannerDelayMs: 1000 });
      expectExactly(run, [['SMTP_SLOW_BANNER', t25, 'warning']]);
      expect(resultOf(run, 'smtp', t25)!.details.bannerMs).toBeGreaterThan(500);
      expect(resultOf(run, 'starttls', t25)).toMatchObject({ status: 'pass' });
    });

    it('should raise SMTP_EHLO_FAILED for a refused EHLO, and STARTTLS_NOT_OFFERED for the HELO-only server', async () => {
      const { run, t25 } = await scenario('ehlo.test', 'ehlo-rejected');
      expectExactly(run, [
        ['SMTP_EHLO_FAILED', t25, 'warning'],
        ['STARTTLS_NOT_OFFERED', t25, 'critical'],
      ]);
      expect(resultOf(run, 'smtp', t25)!.details).toMatchObject({ ehloOk: false, heloOk: true });
    });

    it('should find nothing wrong with a multi-line banner', async () => {
      const { run, t25 } = await scenario('multiline.test', 'multiline-banner');
      expect(run.findings.observed).toEqual([]);
      expect(resultOf(run, 'smtp', t25)!.details.banner.split('\n')).toHaveLength(3);
      expect(resultOf(run, 'starttls', t25)).toMatchObject({ status: 'pass' });
    });

    it('should find nothing wrong with STARTTLS as the last capability', async () => {
      const { run, t25 } = await scenario('starttls-last.test', 'starttls-last');
      expect(run.findings.observed).toEqual([]);
      const caps: string[] = resultOf(run, 'smtp', t25)!.details.capabilities;
      expect(caps.at(-1)).toBe('STARTTLS');
      expect(resultOf(run, 'starttls', t25)).toMatchObject({ status: 'pass', details: { offered: true, handshakeOk: true } });
    });

    it.each([
      ['a 421 at connect', 'reject-421' as const, 'temporary_reject'],
      ['a silent server', 'silent' as const, 'banner_timeout'],
    ])('should call %s untestable and raise nothing', async (_what, behaviour, reason) => {
      const { run, t25 } = await scenario(`${behaviour}.test`, behaviour);
      expect(run.findings.observed).toEqual([]);
      expect(run.findings.open).toEqual([]);
      expect(resultOf(run, 'smtp', t25)).toMatchObject({ status: 'untestable', reason });
      expect(resultOf(run, 'starttls', t25)).toBeUndefined();
      expect(resultOf(run, 'smtp', t25)!.details.transcript.length).toBeGreaterThan(0);
    });
  });

  describe('STARTTLS and certificates', () => {
    it('should raise STARTTLS_NOT_OFFERED', async () => {
      const { run, t25 } = await scenario('nostarttls.test', 'no-starttls');
      expectExactly(run, [['STARTTLS_NOT_OFFERED', t25, 'critical']]);
      expect(resultOf(run, 'starttls', t25)).toMatchObject({ status: 'fail', details: { offered: false, handshakeOk: false } });
    });

    it('should raise STARTTLS_FAILED when STARTTLS is refused', async () => {
      const { run, t25 } = await scenario('starttls454.test', 'starttls-454');
      expectExactly(run, [['STARTTLS_FAILED', t25, 'critical']]);
      expect(run.findings.observed[0]!.message).toContain('454');
    });

    it('should raise TLS_CERT_EXPIRED only for an expired certificate from a trusted CA, keeping its dates', async () => {
      const { run, t25 } = await scenario('expired.test', 'expired-cert');
      expectExactly(run, [['TLS_CERT_EXPIRED', t25, 'critical']]);
      const d = resultOf(run, 'starttls', t25)!.details;
      expect(d).toMatchObject({ handshakeOk: true, trusted: true, nameMatch: true, authorizationError: 'CERT_HAS_EXPIRED' });
      expect(Date.parse(d.cert.notAfter)).toBeLessThan(Date.now());
      expect(Date.parse(d.cert.notBefore)).toBeLessThan(Date.parse(d.cert.notAfter));
      expect(d.tlsVersion).toMatch(/^TLSv1\.[23]$/);
      expect(d.cipher).toEqual(expect.any(String));
    });

    it('should raise TLS_CERT_EXPIRING for a certificate expiring within MXWATCH_CERT_WARN_DAYS', async () => {
      const { run, t25 } = await scenario('expiring.test', 'expiring-cert');
      expectExactly(run, [['TLS_CERT_EXPIRING', t25, 'warning']]);
      expect(resultOf(run, 'starttls', t25)!.details.cert.daysLeft).toBe(5);
    });

    it('should raise TLS_CERT_UNTRUSTED only for a self-signed certificate, keeping its dates', async () => {
      const { run, t25 } = await scenario('selfsigned.test', 'self-signed');
      expectExactly(run, [['TLS_CERT_UNTRUSTED', t25, 'warning']]);
      const d = resultOf(run, 'starttls', t25)!.details;
      expect(d).toMatchObject({ handshakeOk: true, trusted: false, nameMatch: true, authorizationError: 'DEPTH_ZERO_SELF_SIGNED_CERT' });
      expect(Date.parse(d.cert.notAfter)).toBeGreaterThan(Date.now());
      expect(d.cert.notBefore).toEqual(expect.any(String));
    });

    it('should raise both TLS_CERT_UNTRUSTED and TLS_CERT_EXPIRED for a self-signed certificate that also expired', async () => {
      const { run, t25 } = await scenario('selfsigned-expired.test', 'self-signed-expired');
      expectExactly(run, [
        ['TLS_CERT_EXPIRED', t25, 'critical'],
        ['TLS_CERT_UNTRUSTED', t25, 'warning'],
      ]);
      expect(run.findings.observed.find((f) => f.code === 'TLS_CERT_UNTRUSTED')!.message).toContain('DEPTH_ZERO_SELF_SIGNED_CERT');
      expect(resultOf(run, 'starttls', t25)!.details).toMatchObject({ trusted: false, authorizationError: 'CERT_HAS_EXPIRED' });
    });

    it('should raise TLS_CERT_NAME_MISMATCH only for a trusted certificate of another name', async () => {
      const { run, t25 } = await scenario('wrongname.test', 'wrong-name');
      expectExactly(run, [['TLS_CERT_NAME_MISMATCH', t25, 'warning']]);
      expect(run.findings.observed[0]!.message).toContain('other.invalid');
      expect(resultOf(run, 'starttls', t25)!.details).toMatchObject({ trusted: true, nameMatch: false });
    });

    it('should raise TLS_PROTOCOL_OUTDATED for a TLS 1.0-only server', async () => {
      const { run, t25 } = await scenario('tls10.test', 'tls10-only');
      expectExactly(run, [['TLS_PROTOCOL_OUTDATED', t25, 'warning']]);
      expect(resultOf(run, 'starttls', t25)!.details).toMatchObject({ tlsVersion: 'TLSv1', legacyRetry: true, handshakeOk: true, trusted: true });
    });

    it('should raise AUTH_BEFORE_TLS', async () => {
      const { run, t25 } = await scenario('authplain.test', 'auth-before-tls');
      expectExactly(run, [['AUTH_BEFORE_TLS', t25, 'warning']]);
      expect(resultOf(run, 'starttls', t25)!.details.authMechanisms).toEqual(['PLAIN', 'LOGIN']);
    });
  });

  it('should end within the deadline with untestable results and no finding when every server only times out', async () => {
    const name = 'tarpit.test';
    const d = await addDomain(name, {
      mx: [
        { host: `mx1.${name}`, behaviour25: 'silent', behaviour587: 'silent', behaviour465: 'silent' },
        { host: `mx2.${name}`, pref: 20, behaviour25: 'silent', behaviour587: 'silent', behaviour465: 'silent' },
      ],
    });
    const started = Date.now();
    const run = await check(name);
    expect(Date.now() - started).toBeLessThan((CHECK_TIMEOUT_S + 5) * 1000);
    expect(run.findings.observed).toEqual([]);
    expect(run.findings.open).toEqual([]);
    const smtp = ofProbe(run, 'smtp');
    expect(smtp.map((r) => r.target).sort()).toEqual(d.mx.flatMap((h) => [25, 587, 465].map((p) => `${h.host}[${h.ip}]:${p}`)).sort());
    for (const r of [...smtp, ...ofProbe(run, 'starttls')]) expect(r.status, `${r.probe} ${r.target}`).toBe('untestable');
    // Each wait is bounded by the reply timeout, the implicit-TLS handshake on 465 included.
    for (const r of smtp) expect(r.reason, r.target).toBe(r.target.endsWith(':465') ? 'tls_timeout' : 'banner_timeout');
    expect(ofProbe(run, 'mx')[0]!.status).toBe('pass');
  });

  it('should resolve STARTTLS_NOT_OFFERED once the server offers STARTTLS again', async () => {
    const { run, ip, t25 } = await scenario('switch.test', 'no-starttls');
    expectExactly(run, [['STARTTLS_NOT_OFFERED', t25]]);
    await net.setBehaviour(ip, 25, 'good');
    const fixed = await check('switch.test');
    expect(fixed.findings.observed).toEqual([]);
    expect(fixed.findings.open).toEqual([]);
    expect(findingKeys(fixed.findings.resolved)).toEqual([`STARTTLS_NOT_OFFERED ${t25}`]);
  });
});
