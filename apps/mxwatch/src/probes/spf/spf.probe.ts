/**
 * SPF probe (RFC 7208): the domain's policy evaluated like a receiver does, with every lookup
 * counted across the whole tree. A lookup that fails on our side makes the result untestable.
 */
import { normaliseDomainName } from '../../transport/dns/dns-names.js';
import { defineProbe, statusFromObservations, resultFinisher } from '../probe-definition.js';
import { spfPolicy } from './spf.policy.js';
import type { ProbeContext, ProbeObservation, ProbeResult, ProbeStatus } from '../probe.types.js';
import {
  evaluateSpf,
  heaviestInclude,
  SPF_LOOKUP_LIMIT,
  SPF_VOID_LIMIT,
  SpfDeadline,
  type SpfNode,
} from './spf-evaluator.js';
import { SPF_FINDINGS } from './spf.findings.js';

export type SpfDetails = {
  domain: string;
  /** The one SPF record, or null (none, or several: see `records`). */
  record: string | null;
  records: string[];
  lookups: number;
  voidLookups: number;
  /** The evaluated include/redirect tree with per-node lookup counts. */
  tree: SpfNode | null;
  /** ip4/ip6 networks and resolved a/mx addresses of the domain's own part (`address/length`). */
  ownNetworks: string[];
  /** Includes outside the domain's organisational domain: named, not expanded into addresses. */
  thirdPartyIncludes: string[];
  /** Whether the domain publishes a null MX (only asked when it has no SPF record). */
  nullMx: boolean | null;
  error?: string;
};

export type SpfSubject = { domain: string };

type Code = keyof typeof SPF_FINDINGS;

const join = (items: readonly string[], max = 5) => (items.length > max ? `${items.slice(0, max).join('; ')}; and ${items.length - max} more` : items.join('; '));

export async function probeSpf(ctx: ProbeContext, domainInput: string): Promise<ProbeResult<SpfDetails>> {
  const startedAt = ctx.now();
  const norm = normaliseDomainName(domainInput);
  const domain = norm.ok ? norm.name : domainInput.trim().toLowerCase().replace(/\.$/, '');
  const details: SpfDetails = { domain, record: null, records: [], lookups: 0, voidLookups: 0, tree: null, ownNetworks: [], thirdPartyIncludes: [], nullMx: null };
  const observations: ProbeObservation[] = [];
  const observe = (code: Code, params: ProbeObservation['params'], severity?: ProbeObservation['severity']) =>
    observations.push({ code, target: domain, params: { domain, ...params }, ...(severity ? { severity } : {}) });
  const finish = resultFinisher<SpfDetails>(ctx, 'spf', domain, startedAt, details, observations);

  try {
    const ev = await evaluateSpf(ctx, domain);
    details.records = ev.records;
    details.record = ev.records.length === 1 ? ev.records[0]! : null;
    details.tree = ev.tree;
    details.lookups = ev.lookups;
    details.voidLookups = ev.voidLookups;
    details.ownNetworks = ev.ownNetworks;
    details.thirdPartyIncludes = ev.thirdPartyIncludes;
    if (ev.pathError) {
      details.error = `${ev.pathError.type} lookup of ${ev.pathError.name} failed: ${ev.pathError.cause}`;
      return finish('untestable', `dns_${ev.pathError.error}`);
    }

    if (ev.domainNxdomain) {
      // The MX probe reports a domain that does not exist; "no SPF" on top of that would be noise.
      details.error = `${domain} does not exist (NXDOMAIN)`;
      return finish('pass', 'domain_nxdomain');
    }
    if (ev.records.length === 0) {
      const mx = await ctx.resolver.resolve(domain, 'MX', { signal: ctx.signal });
      if (!mx.ok && mx.error !== 'nxdomain' && mx.error !== 'nodata') {
        details.error = `MX lookup of ${domain} failed: ${mx.cause}`;
        return finish('untestable', `dns_${mx.error}`);
      }
      details.nullMx = mx.ok && mx.records.length > 0 && mx.records.every((r) => r.exchange === '.' || r.exchange === '');
      if (details.nullMx) observe('SPF_MISSING', { note: ' (it publishes a null MX and should also publish "v=spf1 -all")' }, 'info');
      else observe('SPF_MISSING', { note: '' });
      return finish(statusFromObservations(observations, SPF_FINDINGS), 'spf_missing');
    }
    const p = ev.problems;
    if (p.multiple.length) observe('SPF_MULTIPLE_RECORDS', { count: p.multiple.length, records: p.multiple.join(' | ') });
    if (p.syntax.length) observe('SPF_SYNTAX', { problems: join(p.syntax) });
    if (p.includeInvalid.length) observe('SPF_INCLUDE_INVALID', { problems: join(p.includeInvalid) });
    if (p.loops.length) observe('SPF_LOOP', { loops: join(p.loops) });

    const top = heaviestInclude(ev.tree);
    const topText = top ? `; ${top.via} contributes most (${top.lookups})` : '';
    const limitProblems: string[] = [];
    if (ev.lookups > SPF_LOOKUP_LIMIT) limitProblems.push(`${ev.truncated ? 'more than ' : ''}${ev.lookups} DNS lookups across the evaluated tree (limit ${SPF_LOOKUP_LIMIT})${topText}`);
    for (const m of p.mxNames) limitProblems.push(`${m} (limit 10 per mx mechanism)`);
    if (limitProblems.length) {
      observe('SPF_LOOKUP_LIMIT', { problem: limitProblems.join('; '), count: ev.lookups, topInclude: top?.via ?? null, topLookups: top?.lookups ?? null });
    } else if (ev.lookups >= SPF_LOOKUP_LIMIT - 1) {
      observe('SPF_LOOKUP_NEAR_LIMIT', { count: ev.lookups, top: topText, topInclude: top?.via ?? null });
    }
    if (ev.voidLookups > SPF_VOID_LIMIT) observe('SPF_VOID_LOOKUPS', { count: ev.voidLookups, names: join(ev.voidNames) });
    if (p.passAll.length) observe('SPF_ALL_PERMISSIVE', { problems: join([...p.passAll.map((t) => `${t} lets every host pass`), ...p.weakAll]) }, 'critical');
    else if (p.weakAll.length) observe('SPF_ALL_PERMISSIVE', { problems: join(p.weakAll) });
    if (p.ptr.length) observe('SPF_PTR_MECHANISM', { terms: join(p.ptr) });
    if (p.tooLong.length) observe('SPF_RECORD_TOO_LONG', { records: join(p.tooLong) });
    if (p.broad.length) observe('SPF_RANGE_TOO_BROAD', { terms: join(p.broad) });
    const status = statusFromObservations(observations, SPF_FINDINGS);
    return finish(status, status === 'pass' ? undefined : observations[0]?.code.toLowerCase());
  } catch (err) {
    if (err instanceof SpfDeadline || ctx.signal.aborted) {
      details.error = 'the check deadline passed before DNS answered';
      return finish('untestable', 'deadline_exceeded');
    }
    throw err;
  }
}

export const spfProbe = defineProbe<SpfDetails, SpfSubject>({
  name: 'spf',
  scope: 'domain',
  title: 'SPF record, evaluated like a receiver: syntax, DNS lookup and void limits, loops, all',
  needs: [],
  subjects: (plan) => [{ domain: plan.domain.name }],
  run: (ctx, subject) => probeSpf(ctx, subject.domain),
  findings: SPF_FINDINGS,
  policy: spfPolicy,
  metrics: {
    specs: [
      { name: 'mxwatch_spf_dns_lookups', help: 'DNS lookups the domain\'s SPF policy costs a receiver (limit 10)', type: 'gauge', labelNames: ['domain'] },
      { name: 'mxwatch_spf_void_lookups', help: 'Lookups of the SPF policy that find nothing (limit 2)', type: 'gauge', labelNames: ['domain'] },
    ],
    series(result, domain) {
      if (result.status === 'untestable') return 'keep';
      if (result.details.records.length !== 1) return [];
      return [
        { metric: 'mxwatch_spf_dns_lookups', labels: { domain }, value: result.details.lookups },
        { metric: 'mxwatch_spf_void_lookups', labels: { domain }, value: result.details.voidLookups },
      ];
    },
  },
});
