/**
 * TLS-RPT (RFC 8460): the `_smtp._tls` TXT record that tells senders where to report TLS
 * failures. A missing record matters more when MTA-STS or DANE is deployed: then failures stop
 * mail, and reports are how the owner hears of them. Never sends a report.
 */
import { performance } from 'node:perf_hooks';
import { type PlanView, defineProbe, statusFromObservations } from '../probe-definition.js';
import type { ProbeContext, ProbeObservation, ProbeResult, ProbeStatus } from '../probe.types.js';
import { TLS_RPT_FINDINGS } from './tls-rpt.findings.js';
import { parseTlsRptTxt } from './tls-rpt.parser.js';

export const TLS_RPT_PROBE = 'tls-rpt';

export interface TlsRptSubject {
  domain: string;
  /** A valid `_mta-sts` record was seen in this run (null: not known). */
  mtaSts: boolean | null;
  /** Signed TLSA records with usable entries were seen for an MX in this run (null: not known). */
  dane: boolean | null;
}

export type TlsRptDetails = {
  domain: string;
  state: 'missing' | 'invalid' | 'valid';
  record: string | null;
  rua: string[];
  mtaStsDeployed: boolean | null;
  daneDeployed: boolean | null;
  error: string | null;
};

function mtaStsDeployed(plan: PlanView): boolean | null {
  const r = plan.results('mta-sts')[0];
  if (!r || r.status === 'untestable') return null;
  return typeof (r.details as { id?: unknown }).id === 'string';
}

function daneDeployed(plan: PlanView): boolean | null {
  const results = plan.results('dane');
  if (results.length === 0) return null;
  if (results.some((r) => (r.details as { deployed?: unknown }).deployed === true)) return true;
  return results.every((r) => r.status !== 'untestable') ? false : null;
}

export const tlsRptProbe = defineProbe<TlsRptDetails, TlsRptSubject>({
  name: TLS_RPT_PROBE,
  scope: 'domain',
  title: 'TLS-RPT: where senders report TLS failures (RFC 8460)',
  needs: ['mta-sts', 'dane'],
  findings: TLS_RPT_FINDINGS,

  subjects(plan: PlanView): TlsRptSubject[] {
    return [{ domain: plan.domain.name.toLowerCase().replace(/\.$/, ''), mtaSts: mtaStsDeployed(plan), dane: daneDeployed(plan) }];
  },

  async run(ctx: ProbeContext, subject: TlsRptSubject): Promise<ProbeResult<TlsRptDetails>> {
    const startedAt = ctx.now();
    const t0 = performance.now();
    const { domain } = subject;
    const details: TlsRptDetails = { domain, state: 'missing', record: null, rua: [], mtaStsDeployed: subject.mtaSts, daneDeployed: subject.dane, error: null };
    const obs: ProbeObservation[] = [];
    const finish = (status: ProbeStatus | null, reason?: string): ProbeResult<TlsRptDetails> => ({
      probe: TLS_RPT_PROBE as ProbeResult['probe'],
      target: domain,
      status: status ?? statusFromObservations(obs, TLS_RPT_FINDINGS),
      ...(reason ? { reason } : {}),
      startedAt,
      durationMs: Math.round(performance.now() - t0),
      details,
      observations: obs,
    });
    let txt;
    try {
      txt = await ctx.resolver.resolve(`_smtp._tls.${domain}`, 'TXT', { signal: ctx.signal });
    } catch (e) {
      if (ctx.signal.aborted) return finish('untestable', 'aborted');
      throw e;
    }
    if (!txt.ok && txt.error !== 'nxdomain' && txt.error !== 'nodata') {
      details.error = txt.cause;
      return finish('untestable', `dns_${txt.error}`);
    }
    const verdict = parseTlsRptTxt(txt.ok ? txt.records : []);
    if (verdict.kind === 'missing') {
      const uses = [subject.mtaSts ? 'MTA-STS' : null, subject.dane ? 'DANE' : null].filter(Boolean);
      obs.push({
        code: 'TLSRPT_MISSING',
        target: domain,
        params: { domain, deployed: uses.length ? `, although it uses ${uses.join(' and ')}` : '' },
        ...(uses.length ? { severity: 'warning' as const } : {}),
      });
      return finish(null);
    }
    if (verdict.kind === 'invalid') {
      details.state = 'invalid';
      details.record = verdict.records.join(' | ');
      obs.push({ code: 'TLSRPT_INVALID', target: domain, params: { domain, problems: verdict.problems.join('; '), record: details.record } });
      return finish(null);
    }
    details.state = 'valid';
    details.record = verdict.record;
    details.rua = verdict.rua;
    return finish(null);
  },
});
