import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { type FakeSmtpBehaviour, type FakeSmtpServer, defaultFakeSmtpCa, startFakeSmtp } from '../../../../../test/rig/smtp/fake-smtp-server.js';
import type { TestCa } from '../../../../../test/rig/tls/test-ca.js';
import { FINDING_CATALOG, type FindingCode, renderTemplate } from '../../findings/finding-catalog.js';
import { AddressPolicy } from '../../transport/net/address-policy.js';
import { NetDialer } from '../../transport/net/net-dialer.js';
import { NodeTlsUpgrader } from '../../transport/net/tls-upgrader.js';
import type { ProbeContext, ProbeObservation, ProbeSettings } from '../probe.types.js';
import { type SmtpProbeOptions, type SmtpTarget, probeSmtpEndpoint } from './smtp.probe.js';

let ca: TestCa;
const servers: FakeSmtpServer[] = [];

beforeAll(async () => {
  ca = await defaultFakeSmtpCa();
});

afterEach(async () => {
  await Promise.all(servers.splice(0).map((s) => s.close()));
});

afterAll(async () => {
  await Promise.all(servers.splice(0).map((s) => s.close()));
});

const settings: ProbeSettings = {
  smtpPorts: [25, 587, 465],
  certWarnDays: 14,
  slowBannerMs: 5_000,
  dnsblZones: [],
  ehloName: 'probe.mxwatch.test',
  smtpConnectTimeoutMs: 2_000,
  smtpReplyTimeoutMs: 2_000,
  maxMxHosts: 10,
  maxAddresses: 32,
};

function context(overrides: Partial<ProbeSettings> = {}, portMap = new Map<number, number>(), budgetMs = 10_000): ProbeContext {
  const ac = new AbortController();
  const deadline = Date.now() + budgetMs;
  setTimeout(() => ac.abort(), budgetMs).unref();
  return {
    deadline,
    signal: ac.signal,
    resolver: { resolve: () => Promise.reject(new Error('no DNS in this test')) },
    dnsblResolver: { resolve: () => Promise.reject(new Error('no DNS in this test')) },
    dialer: new NetDialer({ policy: AddressPolicy.fromList('127.0.0.0/8'), portMap }),
    addressPolicy: AddressPolicy.fromList('127.0.0.0/8'),
    settings: { ...settings, ...overrides },
    now: () => new Date(),
  };
}

const upgrader = () => new NodeTlsUpgrader({ ca: ca.cert });

/** Starts a fake and probes it as if it listened on `probedPort` (the dialer's port map bridges the two). */
async function probe(
  behaviour: FakeSmtpBehaviour,
  opts: { probedPort?: number; role?: SmtpTarget['role']; host?: string; settings?: Partial<ProbeSettings>; probe?: SmtpProbeOptions; bannerDelayMs?: number } = {},
) {
  const probedPort = opts.probedPort ?? 25;
  const server = await startFakeSmtp({ behaviour, host: opts.host ?? '127.0.0.2', hostname: 'mx.test', ca, bannerDelayMs: opts.bannerDelayMs });
  servers.push(server);
  const ctx = context(opts.settings, new Map([[probedPort, server.port]]));
  const outcome = await probeSmtpEndpoint(ctx, { host: 'mx.test', ip: server.ip, port: probedPort, role: opts.role ?? 'mx' }, { tlsUpgrader: upgrader(), ...opts.probe });
  return { ...outcome, server };
}

const codes = (obs: ProbeObservation[] | undefined) => (obs ?? []).map((o) => o.code);

function expectRenderable(obs: ProbeObservation[]) {
  for (const o of obs) {
    const entry = FINDING_CATALOG[o.code as FindingCode];
    expect(entry, o.code).toBeDefined();
    expect(renderTemplate(entry.message, o.params), o.code).not.toMatch(/\{\w+\}/);
    expect(o.target).toMatch(/^mx\.test\[127\.0\.0\.\d+\]:\d+$/);
  }
}

describe(probeSmtpEndpoint.name, () => {
  it('should pass a server with STARTTLS and a trusted certificate, from one connection', async () => {
    const { smtp, starttls, server } = await probe('good');
    expect(smtp).toMatchObject({ probe: 'smtp', target: 'mx.test[127.0.0.2]:25', status: 'pass', observations: [] });
    expect(smtp.details).toMatchObject({ open: true, bannerCode: 220, ehloOk: true, error: null });
    expect(smtp.details.capabilities).toContain('STARTTLS');
    expect(smtp.details.timings).toMatchObject({ connectMs: expect.any(Number), bannerMs: expect.any(Number), ehloMs: expect.any(Number), tlsHandshakeMs: expect.any(Number), ehlo2Ms: expect.any(Number) });
    expect(smtp.details.transcript.some((l) => l.startsWith('S[tls]: 250'))).toBe(true);
    expect(starttls).toMatchObject({ probe: 'starttls', status: 'pass', observations: [] });
    expect(starttls!.details).toMatchObject({ offered: true, handshakeOk: true, trusted: true, nameMatch: true, authBeforeTls: false, implicitTls: false, legacyRetry: false });
    expect(starttls!.details.tlsVersion).toMatch(/^TLSv1\.[23]$/);
    expect(starttls!.details.cert).toMatchObject({ sans: ['DNS:mx.test'], subject: 'CN=mx.test' });
    expect(starttls!.details.capabilitiesAfterTls).not.toContain('STARTTLS');
    expect(server.connections).toBe(1);
  });

  it('should report STARTTLS_NOT_OFFERED', async () => {
    const { smtp, starttls } = await probe('no-starttls');
    expect(smtp.status).toBe('pass');
    expect(starttls).toMatchObject({ status: 'fail', reason: 'starttls_not_offered' });
    expect(codes(starttls!.observations)).toEqual(['STARTTLS_NOT_OFFERED']);
    expectRenderable(starttls!.observations);
  });

  it('should find STARTTLS when it is the last capability, in lower case, behind a multi-line EHLO', async () => {
    const { starttls } = await probe('starttls-last');
    expect(starttls).toMatchObject({ status: 'pass' });
    expect(starttls!.details.handshakeOk).toBe(true);
  });

  it('should wait for the whole multi-line banner before speaking', async () => {
    const { smtp, server } = await probe('multiline-banner');
    expect(smtp.status).toBe('pass');
    expect(smtp.details.banner).toContain('Unsolicited bulk mail prohibited');
    expect(server.pregreet).toBe(false);
    expect(server.commands[0]).toBe('EHLO probe.mxwatch.test');
  });

  it('should discard plaintext injected after the STARTTLS 220', async () => {
    const { starttls, smtp } = await probe('starttls-injection');
    expect(starttls).toMatchObject({ status: 'pass' });
    expect(starttls!.details.capabilitiesAfterTls).not.toContain('INJECTED');
    expect(starttls!.details.capabilitiesAfterTls).toContain('PIPELINING');
    expect(smtp.details.transcript.some((l) => l.includes('discarded'))).toBe(true);
  });

  it('should report an expired certificate from a trusted CA as expired only', async () => {
    const { starttls } = await probe('expired-cert');
    expect(starttls!.status).toBe('fail');
    expect(codes(starttls!.observations)).toEqual(['TLS_CERT_EXPIRED']);
    expect(starttls!.details).toMatchObject({ authorizationError: 'CERT_HAS_EXPIRED', trusted: true, nameMatch: true });
    expect(Date.parse(starttls!.details.cert!.notAfter)).toBeLessThan(Date.now());
    expectRenderable(starttls!.observations);
  });

  it('should warn about a certificate expiring within certWarnDays', async () => {
    const { starttls } = await probe('expiring-cert');
    expect(starttls!.status).toBe('warn');
    expect(starttls!.observations).toEqual([expect.objectContaining({ code: 'TLS_CERT_EXPIRING', params: expect.objectContaining({ days: 5 }) })]);
  });

  it('should report a self-signed certificate as untrusted only', async () => {
    const { starttls } = await probe('self-signed');
    expect(starttls!.status).toBe('warn');
    expect(starttls!.observations).toEqual([expect.objectContaining({ code: 'TLS_CERT_UNTRUSTED', params: expect.objectContaining({ error: 'DEPTH_ZERO_SELF_SIGNED_CERT' }) })]);
    expect(starttls!.details.trusted).toBe(false);
  });

  it('should report both causes for a self-signed certificate that also expired (OpenSSL reports only the expiry)', async () => {
    const { starttls } = await probe('self-signed-expired');
    expect(starttls!.details.authorizationError).toBe('CERT_HAS_EXPIRED');
    expect(codes(starttls!.observations).sort()).toEqual(['TLS_CERT_EXPIRED', 'TLS_CERT_UNTRUSTED']);
    expect(starttls!.observations.find((o) => o.code === 'TLS_CERT_UNTRUSTED')!.params.error).toBe('DEPTH_ZERO_SELF_SIGNED_CERT');
  });

  it('should report a wrong-name certificate as a name mismatch only', async () => {
    const { starttls } = await probe('wrong-name');
    expect(codes(starttls!.observations)).toEqual(['TLS_CERT_NAME_MISMATCH']);
    expect(starttls!.details).toMatchObject({ trusted: true, nameMatch: false });
    expect(starttls!.observations[0]!.params.names).toBe('other.invalid, www.other.invalid');
    expectRenderable(starttls!.observations);
  });

  it('should diagnose a TLS 1.0-only server as outdated through one legacy retry', async () => {
    const { starttls, smtp, server } = await probe('tls10-only');
    expect(starttls).toMatchObject({ status: 'warn' });
    expect(starttls!.details).toMatchObject({ handshakeOk: true, tlsVersion: 'TLSv1', legacyRetry: true });
    expect(codes(starttls!.observations)).toEqual(['TLS_PROTOCOL_OUTDATED']);
    expect(smtp.status).toBe('pass');
    expect(server.connections).toBe(2);
    expectRenderable(starttls!.observations);
  });

  it('should call a TLS 1.0-only server broken when the legacy retry is disabled', async () => {
    const { starttls, server } = await probe('tls10-only', { probe: { legacyTlsUpgrader: null } });
    expect(starttls).toMatchObject({ status: 'fail', reason: 'tls_handshake_failed' });
    expect(starttls!.observations[0]!.params.error).toContain('ERR_SSL_TLSV1_ALERT_PROTOCOL_VERSION');
    expect(server.connections).toBe(1);
  });

  it('should report AUTH offered before TLS on the starttls result', async () => {
    const { starttls } = await probe('auth-before-tls', { probedPort: 587, role: 'submission' });
    expect(starttls!.details).toMatchObject({ authBeforeTls: true, authMechanisms: ['PLAIN', 'LOGIN'] });
    expect(codes(starttls!.observations)).toEqual(['AUTH_BEFORE_TLS']);
    expect(starttls!.observations[0]!.params.mechanisms).toBe('PLAIN LOGIN');
    expect(starttls!.status).toBe('warn');
  });

  it('should speak TLS first on 465 and record its facts as implicit TLS', async () => {
    const { smtp, starttls } = await probe('implicit-tls', { probedPort: 465, role: 'submission' });
    expect(smtp.status).toBe('pass');
    expect(smtp.details.bannerCode).toBe(220);
    expect(starttls).toMatchObject({ status: 'pass' });
    expect(starttls!.details).toMatchObject({ implicitTls: true, offered: true, handshakeOk: true, trusted: true, authBeforeTls: false, authMechanisms: ['PLAIN'] });
  });

  it('should call a 465 that never answers the TLS handshake untestable, within the reply timeout', async () => {
    const { smtp, starttls } = await probe('silent', { probedPort: 465, role: 'submission', settings: { smtpReplyTimeoutMs: 300 } });
    expect(smtp).toMatchObject({ status: 'untestable', reason: 'tls_timeout', observations: [] });
    expect(starttls).toMatchObject({ status: 'untestable', reason: 'tls_timeout', observations: [] });
    expect(starttls!.details.error).toMatch(/TLS handshake not finished within \d+ ms/);
  });

  it('should fail STARTTLS that is refused with 454', async () => {
    const { starttls } = await probe('starttls-454');
    expect(starttls).toMatchObject({ status: 'fail', reason: 'starttls_refused' });
    expect(starttls!.observations[0]).toMatchObject({ code: 'STARTTLS_FAILED', params: expect.objectContaining({ error: expect.stringContaining('454') }) });
  });

  it('should treat a 421 banner as untestable without observations', async () => {
    const { smtp, starttls } = await probe('reject-421');
    expect(smtp).toMatchObject({ status: 'untestable', reason: 'temporary_reject', observations: [] });
    expect(starttls).toBeNull();
  });

  it('should fail a 554 banner with SMTP_BANNER_REJECT', async () => {
    const { smtp, starttls } = await probe('reject-554');
    expect(smtp).toMatchObject({ status: 'fail', reason: 'banner_reject' });
    expect(smtp.observations[0]).toMatchObject({ code: 'SMTP_BANNER_REJECT', params: expect.objectContaining({ reply: expect.stringContaining('554 5.7.1') }) });
    expect(starttls).toBeNull();
    expectRenderable(smtp.observations);
  });

  it('should warn about a slow banner and still not talk first', async () => {
    const { smtp, server } = await probe('slow-banner', { bannerDelayMs: 300, settings: { slowBannerMs: 100 } });
    expect(smtp).toMatchObject({ status: 'warn' });
    expect(codes(smtp.observations)).toEqual(['SMTP_SLOW_BANNER']);
    expect(smtp.details.bannerMs).toBeGreaterThanOrEqual(250);
    expect(server.pregreet).toBe(false);
  });

  it('should treat a banner timeout as untestable', async () => {
    const started = Date.now();
    const { smtp, starttls } = await probe('silent', { settings: { smtpReplyTimeoutMs: 300 } });
    expect(smtp).toMatchObject({ status: 'untestable', reason: 'banner_timeout', observations: [] });
    expect(smtp.details.open).toBe(true);
    expect(starttls).toBeNull();
    expect(Date.now() - started).toBeLessThan(5_000);
  });

  it.each(['garbage-binary', 'garbage-no-crlf', 'endless'] as const)('should fail a server sending %s with a protocol error', async (behaviour) => {
    const { smtp, starttls } = await probe(behaviour, { settings: { smtpReplyTimeoutMs: 3_000 } });
    expect(smtp).toMatchObject({ status: 'fail', reason: 'protocol_error' });
    expect(codes(smtp.observations)).toEqual(['SMTP_BANNER_REJECT']);
    expect(starttls).toBeNull();
    expectRenderable(smtp.observations);
  });

  it('should warn when EHLO is refused and tell a HELO-only server has no STARTTLS', async () => {
    const { smtp, starttls } = await probe('ehlo-rejected');
    expect(smtp).toMatchObject({ status: 'warn', reason: 'ehlo_rejected' });
    expect(smtp.details).toMatchObject({ ehloOk: false, heloOk: true });
    expect(codes(smtp.observations)).toEqual(['SMTP_EHLO_FAILED']);
    expect(starttls).toMatchObject({ status: 'fail', reason: 'no_esmtp' });
  });

  it('should fail a closed port 25 with SMTP_PORT_UNREACHABLE carrying the role', async () => {
    const { smtp, starttls } = await probe('closed');
    expect(smtp).toMatchObject({ status: 'fail', reason: 'connect_refused' });
    expect(smtp.observations[0]).toMatchObject({ code: 'SMTP_PORT_UNREACHABLE', params: expect.objectContaining({ role: 'mx', port: 25 }) });
    expect(starttls).toBeNull();
    expectRenderable(smtp.observations);
  });

  it('should pass a closed submission port on an MX as not required', async () => {
    const { smtp } = await probe('closed', { probedPort: 587, role: 'mx' });
    expect(smtp).toMatchObject({ status: 'pass', reason: 'port_closed_not_required', observations: [] });
    expect(smtp.details.open).toBe(false);
  });

  it('should fail a closed port of a submission host', async () => {
    const { smtp } = await probe('closed', { probedPort: 587, role: 'submission' });
    expect(smtp).toMatchObject({ status: 'fail' });
    expect(smtp.observations[0]!.params.role).toBe('submission');
  });

  it('should not connect to a forbidden address', async () => {
    const ctx = { ...context(), dialer: new NetDialer({ policy: AddressPolicy.fromList(undefined) }) };
    const { smtp, starttls } = await probeSmtpEndpoint(ctx, { host: 'mx.test', ip: '127.0.0.1', port: 25, role: 'mx' });
    expect(smtp).toMatchObject({ status: 'untestable', reason: 'target_forbidden', target: 'mx.test[127.0.0.1]:25' });
    expect(starttls).toBeNull();
  });

  it('should bracket IPv6 addresses in the target', async () => {
    const ctx = { ...context(), dialer: new NetDialer({ policy: AddressPolicy.fromList(undefined) }) };
    const { smtp } = await probeSmtpEndpoint(ctx, { host: 'mx.test', ip: '::1', port: 25, role: 'mx' });
    expect(smtp.target).toBe('mx.test[::1]:25');
  });

  it('should respect the overall deadline against a silent server', async () => {
    const server = await startFakeSmtp({ behaviour: 'silent', host: '127.0.0.3' });
    servers.push(server);
    const ctx = context({ smtpReplyTimeoutMs: 60_000 }, new Map([[25, server.port]]), 400);
    const started = Date.now();
    const { smtp } = await probeSmtpEndpoint(ctx, { host: 'mx.test', ip: server.ip, port: 25, role: 'mx' });
    expect(smtp.status).toBe('untestable');
    expect(Date.now() - started).toBeLessThan(5_000);
  });
});
