import type { ProbeEnv } from '../probe-definition.js';
import type { ProbeContext, ProbeObservation, ProbeResult } from '../probe.types.js';
import type { Endpoint } from './endpoints.js';
import { probeSmtpEndpoint, smtpTarget, type SmtpDetails, type SmtpProbeOutcome } from './smtp.probe.js';

/**
 * One SMTP session per (host, address, port) yields both the `smtp` and the `starttls` result:
 * both probes ask for it, and the first asker's session is the only one (per check, and across
 * domains while the result is young enough). One connection at a time per address.
 */
export function smtpSession(ctx: ProbeContext, ep: Endpoint, env: ProbeEnv): Promise<SmtpProbeOutcome> {
  if (ep.forbiddenRange) return Promise.resolve(forbiddenSubmissionHost(ctx, ep, ep.forbiddenRange));
  return env.shared(`smtp|${ep.host}|${ep.ip}|${ep.port}|${ep.role}`, () => env.exclusive(ep.ip, () => probeSmtpEndpoint(ctx, ep)));
}

/** A declared or published submission host whose address we must not (and its users cannot) reach. */
function forbiddenSubmissionHost(ctx: ProbeContext, ep: Endpoint, range: string): SmtpProbeOutcome {
  const now = ctx.now();
  const target = smtpTarget(ep.host, ep.ip, ep.port);
  const details: SmtpDetails = {
    host: ep.host, ip: ep.ip, port: ep.port, role: ep.role, open: false, connectMs: null, bannerMs: null, banner: null, bannerCode: null,
    ehloOk: false, heloOk: null, capabilities: [], error: `not dialled: ${ep.ip} is a ${range} address`, timings: {}, transcript: [],
  };
  const observation: ProbeObservation = { code: 'SUBMISSION_HOST_PRIVATE_IP', target, params: { host: ep.host, ip: ep.ip, port: ep.port, range } };
  const smtp: ProbeResult<SmtpDetails> = { probe: 'smtp', target, status: 'warn', reason: 'target_private', startedAt: now, durationMs: 0, details, observations: [observation] };
  return { smtp, starttls: null };
}
