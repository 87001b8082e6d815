import { mxAddresses, mxAnswer } from '../mx/mx.definition.js';
import type { PlanView } from '../probe-definition.js';
import type { ProbeContext } from '../probe.types.js';
import { discoverSubmissionHosts } from './submission-hosts.js';

export interface Endpoint {
  host: string;
  ip: string;
  port: number;
  role: 'mx' | 'submission';
  /** Set when the address policy refuses the address (a submission host resolving to a private address): reported, never dialled. */
  forbiddenRange?: string;
}

const SUBMISSION_PORTS = new Set([587, 465]);

/**
 * The (host, address, port) triples one check talks SMTP to: every MX address (already capped by
 * the MX probe) on MXWATCH_SMTP_PORTS, plus the submission hosts (declared, or published through
 * RFC 6186 SRV records) on 587/465. Each (address, port) appears once, whatever the number of
 * names and records pointing at it. Derived once per check, shared by the smtp and starttls probes.
 */
export function smtpEndpoints(plan: PlanView, ctx: ProbeContext): Promise<Endpoint[]> {
  return plan.once('smtp-endpoints', async () => {
    const mx = mxAnswer(plan.results('mx'));
    if (!mx || (mx.nullMx && mx.hosts.length === 0)) return [];
    const allowed = (ip: string) => ctx.addressPolicy.forbiddenRange(ip) === null;
    const endpoints: Endpoint[] = [];
    const byKey = new Map<string, Endpoint>();
    const add = (ep: Endpoint) => {
      const key = `${ep.ip}|${ep.port}`;
      const existing = byKey.get(key);
      if (existing) {
        if (ep.role === 'submission') existing.role = 'submission';
        return;
      }
      byKey.set(key, ep);
      endpoints.push(ep);
    };
    for (const { host, ip } of mxAddresses(mx)) {
      // The MX probe reports private MX addresses (MX_TARGET_PRIVATE_IP); they are never dialled.
      if (!allowed(ip)) continue;
      for (const port of ctx.settings.smtpPorts) add({ host, ip, port, role: 'mx' });
    }
    const submission = await discoverSubmissionHosts(ctx, plan.domain.name, plan.domain.submissionHosts);
    for (const s of submission.hosts) {
      const addresses = (await resolveAddresses(ctx, s.host)).slice(0, ctx.settings.maxAddresses);
      for (const ip of addresses) {
        const range = ctx.addressPolicy.forbiddenRange(ip);
        for (const port of s.ports) {
          if (!SUBMISSION_PORTS.has(port) && !ctx.settings.smtpPorts.includes(port)) continue;
          add({ host: s.host, ip, port, role: 'submission', ...(range ? { forbiddenRange: range } : {}) });
        }
      }
    }
    return endpoints;
  });
}

async function resolveAddresses(ctx: ProbeContext, host: string): Promise<string[]> {
  const [a, aaaa] = await Promise.all([ctx.resolver.resolve(host, 'A', { signal: ctx.signal }), ctx.resolver.resolve(host, 'AAAA', { signal: ctx.signal })]);
  return [...new Set([...(a.ok ? a.records : []), ...(aaaa.ok ? aaaa.records : [])])];
}
