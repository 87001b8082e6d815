/**
 * DNSSEC: the state of the domain's SOA and MX answers and of each MX host's addresses, as a
 * validating resolver sees them. When our resolver does not validate (the canary), every result
 * is untestable with reason `resolver_not_validating`: "unsigned" would be a guess.
 */
import { performance } from 'node:perf_hooks';
import { type PlanView, defineProbe, statusFromObservations } from '../probe-definition.js';
import type { ProbeContext, ProbeObservation, ProbeResult, ProbeStatus } from '../probe.types.js';
import { DNSSEC_FINDINGS } from './dnssec.findings.js';
import { DEFAULT_CANARY, type DnssecCanary, type DnssecState, canaryVerdict, classify, worstState } from './dnssec-state.js';

export const DNSSEC_PROBE = 'dnssec';

export interface DnssecSubject {
  domain: string;
  mxKnown: boolean;
  mxHosts: string[];
}

export interface NameState {
  name: string;
  type: string;
  state: DnssecState;
  detail: string;
}

export type DnssecDetails = {
  domain: string;
  /** The domain's own state: the worst of its SOA and MX answers. */
  state: DnssecState | null;
  answers: NameState[];
  /** Per MX host: the worst of its A and AAAA answers. */
  mxHosts: Array<{ host: string; state: DnssecState }>;
  resolverValidating: boolean | null;
  error: string | null;
};

export function mxHostNames(plan: PlanView): { known: boolean; hosts: string[] } {
  const mx = plan.results('mx')[0];
  if (!mx || mx.status === 'untestable') return { known: false, hosts: [] };
  const hosts = (mx.details as { hosts?: Array<{ host?: unknown; ipLiteral?: unknown }> }).hosts ?? [];
  return { known: true, hosts: hosts.filter((h) => typeof h.host === 'string' && h.ipLiteral !== true).map((h) => (h.host as string).toLowerCase().replace(/\.$/, '')) };
}

/** MXWATCH_DNSSEC_CANARY from the settings, or the public default. */
export function canaryNames(ctx: ProbeContext): DnssecCanary {
  return (ctx.settings as { dnssecCanary?: DnssecCanary }).dnssecCanary ?? DEFAULT_CANARY;
}

export const dnssecProbe = defineProbe<DnssecDetails, DnssecSubject>({
  name: DNSSEC_PROBE,
  scope: 'domain',
  title: 'DNSSEC: whether the domain, its MX records and its MX hosts validate',
  needs: ['mx'],
  findings: DNSSEC_FINDINGS,

  subjects(plan: PlanView): DnssecSubject[] {
    const mx = mxHostNames(plan);
    return [{ domain: plan.domain.name.toLowerCase().replace(/\.$/, ''), mxKnown: mx.known, mxHosts: mx.hosts }];
  },

  async run(ctx: ProbeContext, subject: DnssecSubject): Promise<ProbeResult<DnssecDetails>> {
    const startedAt = ctx.now();
    const t0 = performance.now();
    const { domain } = subject;
    const details: DnssecDetails = { domain, state: null, answers: [], mxHosts: [], resolverValidating: null, error: null };
    const obs: ProbeObservation[] = [];
    const finish = (status: ProbeStatus | null, reason?: string): ProbeResult<DnssecDetails> => ({
      probe: DNSSEC_PROBE as ProbeResult['probe'],
      target: domain,
      status: status ?? statusFromObservations(obs, DNSSEC_FINDINGS),
      ...(reason ? { reason } : {}),
      startedAt,
      durationMs: Math.round(performance.now() - t0),
      details,
      observations: obs,
    });

    const canary = await canaryVerdict(ctx.resolver, canaryNames(ctx), { now: () => ctx.now().getTime() });
    details.resolverValidating = canary.validating;
    if (canary.validating === false) {
      details.error = canary.why;
      obs.push({ code: 'MONITOR_RESOLVER_NOT_VALIDATING', target: 'resolver', params: { why: canary.why } });
      return finish('untestable', 'resolver_not_validating');
    }
    if (canary.validating === null) {
      details.error = canary.why;
      return finish('untestable', 'resolver_canary_unanswered');
    }

    try {
      const bogus = new Map<string, { types: string[]; detail: string }>();
      const record = (name: string, type: string, c: { state: DnssecState; detail: string }) => {
        details.answers.push({ name, type, state: c.state, detail: c.detail });
        if (c.state === 'bogus') {
          const b = bogus.get(name) ?? { types: [], detail: c.detail };
          b.types.push(type);
          bogus.set(name, b);
        }
      };
      const [soa, mx] = await Promise.all([classify(ctx.resolver, domain, 'SOA', ctx.signal), classify(ctx.resolver, domain, 'MX', ctx.signal)]);
      record(domain, 'SOA', soa);
      record(domain, 'MX', mx);
      details.state = worstState([soa.state, mx.state]);
      for (const host of subject.mxHosts) {
        const [a, aaaa] = await Promise.all([classify(ctx.resolver, host, 'A', ctx.signal), classify(ctx.resolver, host, 'AAAA', ctx.signal)]);
        record(host, 'A', a);
        record(host, 'AAAA', aaaa);
        details.mxHosts.push({ host, state: worstState([a.state, aaaa.state]) });
      }
      for (const [name, b] of bogus) obs.push({ code: 'DNSSEC_BOGUS', target: name, params: { domain, name, types: b.types.join(', '), detail: b.detail } });
      if (details.state === 'insecure') obs.push({ code: 'DNSSEC_UNSIGNED', target: domain, params: { domain } });
      for (const h of details.mxHosts) {
        if (h.state === 'insecure') obs.push({ code: 'DNSSEC_MX_HOST_UNSIGNED', target: h.host, params: { domain, mx: h.host } });
      }
      // A name we could not judge is no verdict; only a bogus one is worth reporting alone.
      if (details.state === 'indeterminate' && bogus.size === 0) {
        details.error = [soa, mx].find((c) => c.state === 'indeterminate')?.detail ?? null;
        return finish('untestable', 'dnssec_indeterminate');
      }
      return finish(null);
    } catch (e) {
      if (ctx.signal.aborted) return finish('untestable', 'aborted');
      throw e;
    }
  },

  metrics: {
    specs: [{ name: 'mxwatch_dnssec_state_info', help: 'DNSSEC state of a domain (its SOA and MX answers): secure, insecure or bogus (value 1).', type: 'gauge', labelNames: ['domain', 'state'], domainCount: { name: 'mxwatch_dnssec_state_domains', help: 'Domains by DNSSEC state at their last conclusive check (the states of mxwatch_dnssec_state_info).' } }],
    series(result, domain) {
      if (result.status === 'untestable' || !result.details.state || result.details.state === 'indeterminate') return 'keep';
      return [{ metric: 'mxwatch_dnssec_state_info', labels: { domain, state: result.details.state }, value: 1 }];
    },
  },

  covers(finding, results) {
    const r = results.find((x) => x.probe === (DNSSEC_PROBE as string));
    if (!r) return undefined;
    if (finding.code === 'MONITOR_RESOLVER_NOT_VALIDATING') return (r.details as DnssecDetails).resolverValidating !== null;
    if (r.status === 'untestable') return false;
    const d = r.details as DnssecDetails;
    if (finding.code === 'DNSSEC_BOGUS' || finding.code === 'DNSSEC_MX_HOST_UNSIGNED') {
      // A name whose answers were indeterminate this time was not seen either way.
      return !d.answers.some((a) => a.name === finding.target && a.state === 'indeterminate');
    }
    return undefined;
  },
});
