import { defineProbe, type SeriesSample } from '../probe-definition.js';
import { mxPolicy } from './mx.policy.js';
import type { ProbeResult } from '../probe.types.js';
import { MX_FINDINGS } from './mx.findings.js';
import { probeMx, type MxDetails } from './mx.probe.js';

/**
 * The MX answer of this run, when the MX probe could test the domain; null otherwise (other
 * probes then have no hosts to work on, and say nothing about them).
 */
export function mxAnswer(results: readonly ProbeResult[]): MxDetails | null {
  const mx = results.find((r) => r.probe === 'mx') as ProbeResult<MxDetails> | undefined;
  if (!mx || mx.status === 'untestable') return null;
  return mx.details;
}

/** Whether the MX probe of this run refused us at the DNS level (our resolver, not the domain). */
export function mxRefusedByResolver(results: readonly ProbeResult[]): boolean {
  return results.some((r) => r.probe === 'mx' && r.status === 'untestable' && r.reason === 'dns_refused');
}

/** Every address mail for the domain is delivered to (named MX hosts or the implicit MX), in preference order. */
export function mxAddresses(details: MxDetails | null): Array<{ host: string; ip: string }> {
  if (!details) return [];
  const out: Array<{ host: string; ip: string }> = [];
  const seen = new Set<string>();
  for (const h of details.hosts) {
    if (h.ipLiteral) continue;
    for (const ip of h.addresses) {
      if (seen.has(ip)) continue;
      seen.add(ip);
      out.push({ host: h.host, ip });
    }
  }
  return out;
}

export const mxProbe = defineProbe<MxDetails, string>({
  name: 'mx',
  scope: 'domain',
  title: 'MX records: null MX, aliases, IP literals, unresolvable or private targets',
  needs: [],
  subjects: (plan) => [plan.domain.name],
  run: (ctx, domain) => probeMx(ctx, domain),
  findings: MX_FINDINGS,
  policy: mxPolicy,
  metrics: {
    specs: [
      { name: 'mxwatch_domain_mx_info', help: 'MX hosts of each domain (value 1), to join per-host series to domains', type: 'gauge', labelNames: ['domain', 'mx', 'preference'] },
      { name: 'mxwatch_mx_records', help: 'Number of MX records of the domain (0 when none or null MX)', type: 'gauge', labelNames: ['domain'] },
    ],
    series(r, domain) {
      // A resolver blip says nothing about the MX set: keep what the last conclusive run said.
      if (r.status === 'untestable') return 'keep';
      const d = r.details;
      const out: SeriesSample[] = [{ metric: 'mxwatch_mx_records', labels: { domain }, value: d.implicit || d.nullMx ? 0 : d.hosts.length }];
      for (const h of d.implicit ? [] : d.hosts) out.push({ metric: 'mxwatch_domain_mx_info', labels: { domain, mx: h.host, preference: String(h.preference) }, value: 1 });
      return out;
    },
  },
});
