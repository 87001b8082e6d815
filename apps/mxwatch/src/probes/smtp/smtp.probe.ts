import type { X509Certificate } from 'node:crypto';
import { performance } from 'node:perf_hooks';
import tls, { type DetailedPeerCertificate, type TLSSocket } from 'node:tls';
import { statusFromObservations } from '../probe-definition.js';
import { TIME_VERIFY_ERRORS, TlsUpgradeError, chainTrustErrorIgnoringTime, defaultTlsUpgrader, isLegacyCapable, isTrustAnchorSource, peerCertificate } from '../../transport/net/tls-upgrader.js';
import type { DialResult, ProbeContext, ProbeObservation, ProbeResult, ProbeStatus, TlsUpgrader } from '../probe.types.js';
import {
  type EhloResult,
  SmtpClientError,
  SmtpSession,
  type SmtpTimings,
  Transcript,
  authMechanisms,
  formatReply,
  hasCapability,
} from './smtp-client.js';
import type { SmtpReply } from './smtp-reply-parser.js';
import { SMTP_FINDINGS } from './smtp.findings.js';
import { certificateFacts, chainFacts, type CertificateFacts, type ChainCertificate } from './certificate-facts.js';
import { STARTTLS_FINDINGS } from '../starttls/starttls.findings.js';

export interface SmtpTarget {
  host: string;
  ip: string;
  port: number;
  role: 'mx' | 'submission';
}

export interface SmtpProbeOptions {
  /** Default: NodeTlsUpgrader with Node's root store. */
  tlsUpgrader?: TlsUpgrader;
  /**
   * Used for one more connection when the modern handshake fails with a protocol-version alert.
   * Default: `tlsUpgrader.withLegacyProtocols()` when it has one; `null` disables the retry.
   */
  legacyTlsUpgrader?: TlsUpgrader | null;
}

export interface SmtpDetails {
  host: string;
  ip: string;
  port: number;
  role: 'mx' | 'submission';
  open: boolean;
  connectMs: number | null;
  /** From connection (or, on 465, from the end of the TLS handshake) to the last banner line. */
  bannerMs: number | null;
  banner: string | null;
  bannerCode: number | null;
  ehloOk: boolean;
  /** Only tried when EHLO was refused: true = the server speaks plain SMTP only. */
  heloOk: boolean | null;
  /** Plaintext EHLO capabilities (over TLS on 465). */
  capabilities: string[];
  error: string | null;
  /** Every phase of the first connection, in ms. */
  timings: SmtpTimings;
  transcript: string[];
}

export type { CertificateFacts, ChainCertificate };

export interface StarttlsDetails {
  host: string;
  ip: string;
  port: number;
  implicitTls: boolean;
  offered: boolean;
  handshakeOk: boolean;
  tlsVersion: string | null;
  cipher: string | null;
  cert: CertificateFacts | null;
  /**
   * Every certificate the server presented, leaf first, as DANE (RFC 7672) matches them: digests of
   * the whole certificate and of its public key (hex). Matching type 0 is compared through sha256.
   */
  chain?: ChainCertificate[];
  /** Whether the chain leads to a trusted root, validity dates set aside (expiry is its own fact). */
  trusted: boolean | null;
  /** Node's verification result as is. */
  authorizationError: string | null;
  nameMatch: boolean | null;
  authBeforeTls: boolean;
  /** Mechanisms offered in plaintext when authBeforeTls, else those offered over TLS. */
  authMechanisms: string[];
  capabilitiesAfterTls: string[];
  /** True when the facts come from a second connection that allowed TLS 1.0/1.1. */
  legacyRetry: boolean;
  error: string | null;
}

export interface SmtpProbeOutcome {
  smtp: ProbeResult<SmtpDetails>;
  starttls: ProbeResult<StarttlsDetails> | null;
}

/** `host[ip]:port`, the target of both results and of their observations. */
export function smtpTarget(host: string, ip: string, port: number): string {
  return `${host}[${ip}]:${port}`;
}

const OUTDATED_VERSIONS = new Set(['SSLv3', 'TLSv1', 'TLSv1.1']);

interface TlsFacts {
  version: string | null;
  cipher: string | null;
  authorized: boolean;
  authorizationError: string | null;
  peer: DetailedPeerCertificate | null;
}

/** What one connection got to; results are built from it afterwards. */
interface Conversation {
  dial: Extract<DialResult, { ok: false }> | null;
  dialBudgetLimited: boolean;
  connectMs: number | null;
  bannerMs: number | null;
  banner: SmtpReply | null;
  bannerError: SmtpClientError | null;
  ehlo: EhloResult | null;
  ehloError: SmtpClientError | null;
  helo: SmtpReply | null;
  starttlsReply: SmtpReply | null;
  starttlsError: SmtpClientError | null;
  tlsError: TlsUpgradeError | null;
  tls: TlsFacts | null;
  ehlo2: EhloResult | null;
  ehlo2Error: SmtpClientError | null;
  timings: SmtpTimings;
}

function tlsFacts(s: TLSSocket): TlsFacts {
  const peer = peerCertificate(s);
  const authErr = s.authorizationError as unknown;
  return {
    version: s.getProtocol() ?? null,
    cipher: s.getCipher()?.name ?? null,
    authorized: s.authorized,
    authorizationError: authErr ? String(authErr instanceof Error ? ((authErr as NodeJS.ErrnoException).code ?? authErr.message) : authErr) : null,
    peer: peer && Object.keys(peer).length ? peer : null,
  };
}

function asUpgradeError(e: unknown): TlsUpgradeError {
  if (e instanceof TlsUpgradeError) return e;
  return new TlsUpgradeError('handshake', e instanceof Error ? e.message : String(e));
}

async function converse(ctx: ProbeContext, target: SmtpTarget, upgrader: TlsUpgrader, transcript: Transcript): Promise<Conversation> {
  const c: Conversation = {
    dial: null,
    dialBudgetLimited: false,
    connectMs: null,
    bannerMs: null,
    banner: null,
    bannerError: null,
    ehlo: null,
    ehloError: null,
    helo: null,
    starttlsReply: null,
    starttlsError: null,
    tlsError: null,
    tls: null,
    ehlo2: null,
    ehlo2Error: null,
    timings: {},
  };
  const { settings } = ctx;
  const implicitTls = target.port === 465;
  const dialStart = Date.now();
  const dialDeadline = Math.min(ctx.deadline, dialStart + settings.smtpConnectTimeoutMs);
  c.dialBudgetLimited = ctx.deadline < dialStart + settings.smtpConnectTimeoutMs;
  const dial = await ctx.dialer.dial({ ip: target.ip, port: target.port, deadline: dialDeadline, signal: ctx.signal });
  if (!dial.ok) {
    c.dial = dial;
    transcript.add(`* connect to ${target.ip}:${target.port} failed: ${dial.error} (${dial.cause})`);
    return c;
  }
  c.connectMs = dial.connectMs;
  c.timings.connectMs = dial.connectMs;
  const mapped = dial.actualPort !== target.port ? ` (mapped to port ${dial.actualPort})` : '';
  transcript.add(`* connected to ${target.ip}:${target.port}${mapped} in ${dial.connectMs} ms`);
  const session = new SmtpSession(dial.socket, { deadline: ctx.deadline, replyTimeoutMs: settings.smtpReplyTimeoutMs, signal: ctx.signal, transcript });
  try {
    if (implicitTls) {
      const hs = performance.now();
      try {
        // The handshake is the server's first answer on 465: bounded like a banner, not only by the check deadline.
        const hsDeadline = Math.min(ctx.deadline, Date.now() + settings.smtpReplyTimeoutMs);
        const s = await upgrader.upgrade(dial.socket, { servername: target.host, deadline: hsDeadline, signal: ctx.signal });
        session.timings.tlsHandshakeMs = Math.round(performance.now() - hs);
        session.useTlsSocket(s);
        c.tls = tlsFacts(s);
        session.note(`TLS established: ${c.tls.version ?? '?'} ${c.tls.cipher ?? '?'}`);
      } catch (e) {
        c.tlsError = asUpgradeError(e);
        session.note(`TLS handshake failed: ${c.tlsError.message}`);
        return c;
      }
    }
    // Never speak before the whole banner: postscreen and friends drop clients that pregreet.
    const ready = performance.now();
    try {
      c.banner = await session.readReply('banner');
      c.bannerMs = Math.round(performance.now() - ready);
      session.timings.bannerMs = c.bannerMs;
    } catch (e) {
      c.bannerError = e as SmtpClientError;
      return c;
    }
    if (c.banner.code >= 300) return c;
    try {
      c.ehlo = await session.ehlo(settings.ehloName, 'ehlo');
    } catch (e) {
      c.ehloError = e as SmtpClientError;
      return c;
    }
    if (!c.ehlo.ok) {
      if (c.ehlo.reply.code >= 500) {
        try {
          c.helo = await session.command(`HELO ${settings.ehloName}`, 'helo');
        } catch {
          c.helo = null;
        }
      }
      await session.quit();
      return c;
    }
    if (!implicitTls) {
      if (!hasCapability(c.ehlo.capabilities, 'STARTTLS')) {
        await session.quit();
        return c;
      }
      try {
        const { reply, tls: tlsSocket } = await session.startTls(upgrader, target.host);
        c.starttlsReply = reply;
        if (!tlsSocket) {
          await session.quit();
          return c;
        }
        c.tls = tlsFacts(tlsSocket);
      } catch (e) {
        if (e instanceof SmtpClientError) c.starttlsError = e;
        else {
          c.tlsError = asUpgradeError(e);
          session.note(`TLS handshake failed: ${c.tlsError.message}`);
        }
        return c;
      }
      try {
        c.ehlo2 = await session.ehlo(settings.ehloName, 'ehlo2');
      } catch (e) {
        c.ehlo2Error = e as SmtpClientError;
        return c;
      }
    }
    await session.quit();
    return c;
  } finally {
    session.close();
    c.timings = { ...c.timings, ...session.timings };
  }
}

type FindingCode = (keyof typeof SMTP_FINDINGS | keyof typeof STARTTLS_FINDINGS) & string;
const SESSION_FINDINGS = { ...SMTP_FINDINGS, ...STARTTLS_FINDINGS };

function observation(code: FindingCode, target: string, params: ProbeObservation['params']): ProbeObservation {
  return { code, target, params };
}

function statusFrom(observations: ProbeObservation[]): ProbeStatus {
  return statusFromObservations(observations, SESSION_FINDINGS);
}

function certNames(peer: DetailedPeerCertificate): string {
  const sans = (peer.subjectaltname ?? '')
    .split(/,\s*/)
    .filter(Boolean)
    .map((s) => s.replace(/^DNS:/, '').replace(/^IP Address:/, ''));
  if (sans.length) return sans.join(', ');
  const cn = peer.subject?.CN;
  return cn ? (Array.isArray(cn) ? cn.join(', ') : cn) : '(none)';
}

function describeClientError(e: SmtpClientError): string {
  return e.message;
}

/**
 * Probes one SMTP endpoint over one connection and returns the `smtp` result and, when the
 * session reached EHLO (or the TLS handshake on 465), the `starttls` result. The only second
 * connection is the retry allowing TLS 1.0/1.1, after a protocol-version alert.
 *
 * Decisions (documented for the findings rules):
 * - Closed/filtered 587 or 465 of a host probed as `mx`: normal, `pass` with open=false and
 *   reason `port_closed_not_required`, no observation.
 * - SMTP_PORT_UNREACHABLE carries `role` in its params; the caller may lower the severity for
 *   submission ports.
 * - ENETUNREACH (typically: no IPv6 route on our side) and a connect timeout caused by the
 *   overall deadline rather than the connect timeout are `untestable`.
 * - 421/4xx at the banner or to EHLO, connection closed before the banner, banner or EHLO
 *   timeout: `untestable` (tarpits, rate limits, greylisting).
 * - Unintelligible bytes at the banner: `fail`, reason `protocol_error`, SMTP_BANNER_REJECT
 *   with the parser's diagnosis as `reply`; after EHLO: SMTP_EHLO_FAILED likewise.
 * - EHLO refused with 5xx: SMTP_EHLO_FAILED (warning); HELO is tried to tell "no ESMTP" from
 *   "refuses us". A server speaking only HELO cannot offer STARTTLS: STARTTLS_NOT_OFFERED.
 * - No reply to STARTTLS within the reply timeout: `untestable`; a TLS handshake that fails or
 *   times out after the 220: STARTTLS_FAILED.
 * - On 465 a failed TLS handshake makes `smtp` untestable (`tls_failed`) and `starttls` fail;
 *   a handshake the server never answers (reply timeout) makes both untestable (`tls_timeout`).
 */
export async function probeSmtpEndpoint(ctx: ProbeContext, target: SmtpTarget, options: SmtpProbeOptions = {}): Promise<SmtpProbeOutcome> {
  const startedAt = ctx.now();
  const t0 = performance.now();
  const { host, ip, port, role } = target;
  const id = smtpTarget(host, ip, port);
  const implicitTls = port === 465;
  const upgrader = options.tlsUpgrader ?? defaultTlsUpgrader();
  const legacy = options.legacyTlsUpgrader !== undefined ? options.legacyTlsUpgrader : isLegacyCapable(upgrader) ? upgrader.withLegacyProtocols() : null;
  const transcript = new Transcript();

  const first = await converse(ctx, target, upgrader, transcript);
  let tlsConv: Conversation = first;
  let legacyRetry = false;
  if (first.tlsError?.kind === 'protocol_version' && legacy && !ctx.signal.aborted) {
    transcript.add('* retrying on a new connection with TLS 1.0/1.1 allowed, to tell an outdated server from a broken one');
    tlsConv = await converse(ctx, target, legacy, transcript);
    legacyRetry = true;
  }

  const smtpDetails: SmtpDetails = {
    host,
    ip,
    port,
    role,
    open: first.dial === null,
    connectMs: first.connectMs,
    bannerMs: first.bannerMs,
    banner: first.banner ? first.banner.lines.join('\n') : null,
    bannerCode: first.banner?.code ?? null,
    ehloOk: first.ehlo?.ok ?? false,
    heloOk: first.helo ? first.helo.code === 250 : first.ehlo && !first.ehlo.ok && first.ehlo.reply.code >= 500 ? false : null,
    capabilities: first.ehlo?.capabilities ?? [],
    error: null,
    timings: first.timings,
    transcript: transcript.lines,
  };
  const smtpObs: ProbeObservation[] = [];
  let smtpStatus: ProbeStatus | null = null;
  let smtpReason: string | undefined;
  const base = { host, ip, port };

  const untestable = (reason: string, error: string | null): void => {
    smtpStatus = 'untestable';
    smtpReason = reason;
    smtpDetails.error = error;
  };

  let reachedEhlo = false;
  if (first.dial) {
    const d = first.dial;
    smtpDetails.error = `${d.error}: ${d.cause}`;
    const closedIsNormal = role === 'mx' && port !== 25;
    if (d.error === 'forbidden') untestable('target_forbidden', d.cause);
    else if (d.error === 'error') untestable(d.cause === 'aborted' ? 'aborted' : 'connect_error', d.cause);
    else if (closedIsNormal) {
      smtpStatus = 'pass';
      smtpReason = 'port_closed_not_required';
    } else if (d.error === 'unreachable' && d.cause.startsWith('ENETUNREACH')) untestable('network_unreachable', d.cause);
    else if (d.error === 'timeout' && first.dialBudgetLimited) untestable('deadline_exceeded', d.cause);
    else {
      smtpStatus = 'fail';
      smtpReason = d.error === 'refused' ? 'connect_refused' : d.error === 'timeout' ? 'connect_timeout' : 'host_unreachable';
      // Only a submission host must answer on 587/465 (MX ports closed there were passed above);
      // a closed submission port is a warning, a closed MX port 25 critical.
      smtpObs.push({ ...observation('SMTP_PORT_UNREACHABLE', id, { ...base, error: d.cause, role }), ...(role === 'submission' ? { severity: 'warning' as const } : {}) });
    }
  } else if (first.tlsError && implicitTls) {
    const kind = first.tlsError.kind;
    untestable(kind === 'aborted' ? 'aborted' : kind === 'timeout' ? 'tls_timeout' : 'tls_failed', `TLS: ${first.tlsError.message}`);
  } else if (first.bannerError) {
    const e = first.bannerError;
    if (e.kind === 'protocol') {
      smtpStatus = 'fail';
      smtpReason = 'protocol_error';
      smtpDetails.error = e.message;
      smtpObs.push(observation('SMTP_BANNER_REJECT', id, { ...base, reply: `no valid SMTP greeting (${e.parseError?.kind ?? 'protocol'}: ${e.parseError?.excerpt ?? e.message})` }));
    } else if (e.kind === 'timeout') untestable('banner_timeout', e.message);
    else if (e.kind === 'aborted') untestable('aborted', e.message);
    else untestable('closed_before_banner', e.message);
  } else if (first.banner && first.banner.code >= 400) {
    if (first.banner.code < 500) untestable('temporary_reject', formatReply(first.banner));
    else {
      smtpStatus = 'fail';
      smtpReason = 'banner_reject';
      smtpDetails.error = formatReply(first.banner);
      smtpObs.push(observation('SMTP_BANNER_REJECT', id, { ...base, reply: formatReply(first.banner) }));
    }
  } else if (first.banner && first.banner.code >= 300) {
    smtpStatus = 'fail';
    smtpReason = 'protocol_error';
    smtpDetails.error = `unexpected banner ${formatReply(first.banner)}`;
    smtpObs.push(observation('SMTP_BANNER_REJECT', id, { ...base, reply: formatReply(first.banner) }));
  } else if (first.ehloError) {
    const e = first.ehloError;
    if (e.kind === 'protocol') {
      smtpStatus = 'fail';
      smtpReason = 'protocol_error';
      smtpDetails.error = e.message;
      smtpObs.push(observation('SMTP_EHLO_FAILED', id, { ...base, reply: `unintelligible reply (${e.parseError?.kind ?? 'protocol'}: ${e.parseError?.excerpt ?? e.message})` }));
    } else if (e.kind === 'timeout') untestable('ehlo_timeout', e.message);
    else if (e.kind === 'aborted') untestable('aborted', e.message);
    else untestable('closed_after_ehlo', e.message);
  } else if (first.ehlo && !first.ehlo.ok) {
    reachedEhlo = true;
    if (first.ehlo.reply.code < 500) untestable('ehlo_temporary_failure', formatReply(first.ehlo.reply));
    else {
      smtpReason = 'ehlo_rejected';
      smtpDetails.error = formatReply(first.ehlo.reply);
      smtpObs.push(observation('SMTP_EHLO_FAILED', id, { ...base, reply: formatReply(first.ehlo.reply) }));
    }
  } else {
    reachedEhlo = first.ehlo !== null;
  }
  if ((smtpStatus as ProbeStatus | null) !== 'untestable' && first.bannerMs !== null && first.bannerMs > ctx.settings.slowBannerMs) {
    smtpObs.push(observation('SMTP_SLOW_BANNER', id, { ...base, bannerMs: first.bannerMs }));
    smtpReason ??= 'slow_banner';
  }
  const durationMs = () => Math.round(performance.now() - t0);
  const smtp: ProbeResult<SmtpDetails> = {
    probe: 'smtp',
    target: id,
    status: smtpStatus ?? statusFrom(smtpObs),
    ...(smtpReason ? { reason: smtpReason } : {}),
    startedAt,
    durationMs: durationMs(),
    details: smtpDetails,
    observations: smtpObs,
  };

  const tlsAttempted = implicitTls ? first.dial === null && !first.bannerError : reachedEhlo;
  if (!tlsAttempted && !(implicitTls && first.tlsError)) return { smtp, starttls: null };
  const usedUpgrader = legacyRetry ? legacy : upgrader;
  const anchorSource = isTrustAnchorSource(usedUpgrader) ? usedUpgrader : isTrustAnchorSource(upgrader) ? upgrader : defaultTlsUpgrader();
  const starttls = buildStarttlsResult(ctx, target, id, first, tlsConv, legacyRetry, startedAt, () => anchorSource.trustAnchors());
  starttls.durationMs = durationMs();
  return { smtp, starttls };
}

function buildStarttlsResult(
  ctx: ProbeContext,
  target: SmtpTarget,
  id: string,
  first: Conversation,
  tlsConv: Conversation,
  legacyRetry: boolean,
  startedAt: Date,
  anchors: () => X509Certificate[],
): ProbeResult<StarttlsDetails> {
  const { host, ip, port } = target;
  const implicitTls = port === 465;
  const base = { host, ip, port };
  const plaintextCaps = implicitTls ? [] : (first.ehlo?.capabilities ?? []);
  const plainAuth = authMechanisms(plaintextCaps);
  const d: StarttlsDetails = {
    host,
    ip,
    port,
    implicitTls,
    offered: implicitTls || hasCapability(plaintextCaps, 'STARTTLS'),
    handshakeOk: false,
    tlsVersion: null,
    cipher: null,
    cert: null,
    trusted: null,
    authorizationError: null,
    nameMatch: null,
    authBeforeTls: plainAuth.length > 0,
    authMechanisms: plainAuth,
    capabilitiesAfterTls: [],
    legacyRetry,
    error: null,
  };
  const obs: ProbeObservation[] = [];
  let status: ProbeStatus | null = null;
  let reason: string | undefined;
  const result = (): ProbeResult<StarttlsDetails> => ({
    probe: 'starttls',
    target: id,
    status: status ?? statusFrom(obs),
    ...(reason ? { reason } : {}),
    startedAt,
    durationMs: 0,
    details: d,
    observations: obs,
  });

  if (d.authBeforeTls) obs.push(observation('AUTH_BEFORE_TLS', id, { ...base, mechanisms: plainAuth.join(' ') }));

  if (!implicitTls) {
    if (first.ehlo && !first.ehlo.ok) {
      if (first.helo?.code === 250) {
        reason = 'no_esmtp';
        obs.push(observation('STARTTLS_NOT_OFFERED', id, base));
      } else {
        status = 'untestable';
        reason = 'ehlo_rejected';
      }
      return result();
    }
    if (!d.offered) {
      reason = 'starttls_not_offered';
      obs.push(observation('STARTTLS_NOT_OFFERED', id, base));
      return result();
    }
    if (first.starttlsError) {
      const e = first.starttlsError;
      d.error = e.message;
      if (e.kind === 'timeout' || e.kind === 'aborted') {
        status = 'untestable';
        reason = e.kind === 'aborted' ? 'aborted' : 'starttls_timeout';
      } else {
        reason = 'starttls_failed';
        obs.push(observation('STARTTLS_FAILED', id, { ...base, error: `STARTTLS: ${e.message}` }));
      }
      return result();
    }
    if (first.starttlsReply && first.starttlsReply.code !== 220) {
      const text = formatReply(first.starttlsReply);
      d.error = `STARTTLS answered ${text}`;
      if (first.starttlsReply.code === 421) {
        status = 'untestable';
        reason = 'temporary_reject';
      } else {
        reason = 'starttls_refused';
        obs.push(observation('STARTTLS_FAILED', id, { ...base, error: d.error }));
      }
      return result();
    }
  }

  if (!tlsConv.tls) {
    const err = first.tlsError;
    const retryNote = legacyRetry ? retryFailure(tlsConv) : null;
    if (err?.kind === 'aborted') {
      status = 'untestable';
      reason = 'aborted';
      d.error = err.message;
      return result();
    }
    // A 465 that accepts and never answers the handshake is a tarpit, like a banner that never comes.
    if (implicitTls && err?.kind === 'timeout') {
      status = 'untestable';
      reason = 'tls_timeout';
      d.error = err.message;
      return result();
    }
    d.error = [err?.message ?? 'TLS handshake failed', retryNote].filter(Boolean).join('; ');
    reason = 'tls_handshake_failed';
    obs.push(observation('STARTTLS_FAILED', id, { ...base, error: d.error }));
    return result();
  }

  const t = tlsConv.tls;
  d.handshakeOk = true;
  d.tlsVersion = t.version;
  d.cipher = t.cipher;
  d.authorizationError = t.authorizationError;
  const ehloAfter = implicitTls ? tlsConv.ehlo : tlsConv.ehlo2;
  d.capabilitiesAfterTls = ehloAfter?.ok ? ehloAfter.capabilities : [];
  if (!d.authBeforeTls) d.authMechanisms = authMechanisms(d.capabilitiesAfterTls);
  const afterTlsError = implicitTls ? (tlsConv.bannerError ?? tlsConv.ehloError) : tlsConv.ehlo2Error;
  if (afterTlsError) d.error = `after the TLS handshake: ${describeClientError(afterTlsError)}`;
  else if (ehloAfter && !ehloAfter.ok) d.error = `EHLO over TLS answered ${formatReply(ehloAfter.reply)}`;

  if (t.version && OUTDATED_VERSIONS.has(t.version)) {
    obs.push(observation('TLS_PROTOCOL_OUTDATED', id, { ...base, version: t.version }));
  }

  const now = ctx.now();
  if (t.peer) {
    const cert = certificateFacts(t.peer, now);
    d.cert = cert;
    d.chain = chainFacts(t.peer);
    if (cert) {
      const notAfterMs = Date.parse(cert.notAfter);
      const notBeforeMs = Date.parse(cert.notBefore);
      if (notAfterMs < now.getTime()) obs.push(observation('TLS_CERT_EXPIRED', id, { ...base, notAfter: cert.notAfter }));
      else if (cert.daysLeft < ctx.settings.certWarnDays) obs.push(observation('TLS_CERT_EXPIRING', id, { ...base, days: cert.daysLeft, notAfter: cert.notAfter }));

      // Each finding names one cause: expiry is reported above, so trust is judged with dates set aside.
      let trustError: string | null;
      if (t.authorized) trustError = null;
      else if (t.authorizationError === 'ERR_TLS_CERT_ALTNAME_INVALID') trustError = null;
      else if (t.authorizationError && TIME_VERIFY_ERRORS.has(t.authorizationError)) {
        trustError = chainTrustErrorIgnoringTime(t.peer, anchors());
        if (trustError === null && t.authorizationError === 'CERT_NOT_YET_VALID' && notBeforeMs > now.getTime()) trustError = 'CERT_NOT_YET_VALID';
      } else trustError = t.authorizationError ?? 'UNKNOWN';
      d.trusted = trustError === null || trustError === 'CERT_NOT_YET_VALID';
      if (trustError !== null) obs.push(observation('TLS_CERT_UNTRUSTED', id, { ...base, error: trustError }));

      const name = host.replace(/\.$/, '').toLowerCase();
      d.nameMatch = tls.checkServerIdentity(name, t.peer) === undefined;
      if (!d.nameMatch) obs.push(observation('TLS_CERT_NAME_MISMATCH', id, { ...base, names: certNames(t.peer) }));
    }
  }
  return result();
}

function retryFailure(c: Conversation): string {
  if (c.dial) return `retry with TLS 1.0/1.1 allowed could not connect: ${c.dial.cause}`;
  if (c.tlsError) return `retry with TLS 1.0/1.1 allowed also failed: ${c.tlsError.message}`;
  const e = c.bannerError ?? c.ehloError ?? c.starttlsError;
  if (e) return `retry with TLS 1.0/1.1 allowed did not reach TLS: ${e.message}`;
  return 'retry with TLS 1.0/1.1 allowed did not reach TLS';
}
