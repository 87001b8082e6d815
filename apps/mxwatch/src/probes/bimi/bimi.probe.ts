/**
 * BIMI probe: the `default._bimi` record of the domain (or of its organisational domain), and
 * whether the DMARC policy in force lets mailbox providers show the logo at all. BIMI is
 * optional: no record is no finding. The logo and certificate are not fetched.
 */
import { normaliseDomainName } from '../../transport/dns/dns-names.js';
import { defineProbe, statusFromObservations, resultFinisher } from '../probe-definition.js';
import { bimiPolicy } from './bimi.policy.js';
import type { DnsErrorKind, ProbeContext, ProbeObservation, ProbeResult, ProbeStatus } from '../probe.types.js';
import { DNS_INCONCLUSIVE_ERRORS } from '../../transport/transport.types.js';
import { parseTagList } from '../dkim/dkim.probe.js';
import type { DmarcDetails } from '../dmarc/dmarc.probe.js';
import { organisationalDomain } from '../spf/spf-evaluator.js';
import { BIMI_FINDINGS } from './bimi.findings.js';

/** What the BIMI verdict needs from this check's DMARC result. */
export type BimiDmarcView = {
  testable: boolean;
  record: string | null;
  effectivePolicy: string | null;
  tags: Record<string, string>;
};

export type BimiSubject = { domain: string; dmarc: BimiDmarcView | null };

export type BimiDetails = {
  domain: string;
  recordName: string | null;
  record: string | null;
  logoUrl: string | null;
  authorityUrl: string | null;
  /** `v=BIMI1; l=;` — the domain says it has no logo. */
  declined: boolean;
  dmarcEnforced: boolean | null;
  error?: string;
};

type Code = keyof typeof BIMI_FINDINGS;

const isBimi = (txt: string) => /^v\s*=\s*BIMI1\s*(;|$)/i.test(txt);

function httpsUrl(value: string): boolean {
  try {
    const u = new URL(value);
    return u.protocol === 'https:' && u.hostname !== '';
  } catch {
    return false;
  }
}

/** Why the DMARC policy does not allow BIMI, or null when it does. */
export function dmarcNotEnforced(dmarc: BimiDmarcView): string | null {
  if (!dmarc.record) return 'no DMARC record';
  if (dmarc.effectivePolicy !== 'quarantine' && dmarc.effectivePolicy !== 'reject') return `the policy in force is ${dmarc.effectivePolicy ?? 'none'}`;
  if ((dmarc.tags.sp ?? '').toLowerCase() === 'none') return 'sp=none';
  if (dmarc.tags.pct !== undefined && dmarc.tags.pct !== '100') return `pct=${dmarc.tags.pct}`;
  return null;
}

export async function probeBimi(ctx: ProbeContext, subject: BimiSubject): Promise<ProbeResult<BimiDetails>> {
  const startedAt = ctx.now();
  const norm = normaliseDomainName(subject.domain);
  const domain = norm.ok ? norm.name : subject.domain.toLowerCase();
  const details: BimiDetails = { domain, recordName: null, record: null, logoUrl: null, authorityUrl: null, declined: false, dmarcEnforced: null };
  const observations: ProbeObservation[] = [];
  const observe = (code: Code, params: ProbeObservation['params']) => observations.push({ code, target: domain, params: { domain, ...params } });
  const finish = resultFinisher<BimiDetails>(ctx, 'bimi', domain, startedAt, details, observations);
  const done = () => {
    const status = statusFromObservations(observations, BIMI_FINDINGS);
    return finish(status, status === 'pass' ? undefined : observations[0]?.code.toLowerCase());
  };

  try {
    let found: string[] = [];
    for (const name of [...new Set([`default._bimi.${domain}`, `default._bimi.${organisationalDomain(domain)}`])]) {
      const txt = await ctx.resolver.resolve(name, 'TXT', { signal: ctx.signal });
      if (!txt.ok && DNS_INCONCLUSIVE_ERRORS.has(txt.error)) {
        details.error = `TXT lookup of ${name} failed: ${txt.cause}`;
        return finish('untestable', `dns_${txt.error}`);
      }
      found = txt.ok ? txt.records.filter(isBimi) : [];
      if (found.length) {
        details.recordName = name;
        break;
      }
    }
    if (found.length === 0) return finish('pass', 'bimi_absent');
    const recordName = details.recordName!;
    if (found.length > 1) {
      observe('BIMI_RECORD_INVALID', { recordName, problem: `${found.length} BIMI records at one name` });
      return done();
    }
    const record = found[0]!;
    details.record = record;
    const parsed = parseTagList(record);
    const problems: string[] = [];
    if (typeof parsed === 'string') problems.push(parsed);
    else {
      const tags = Object.fromEntries(Object.entries(parsed.tags).map(([k, v]) => [k.toLowerCase(), v]));
      if (parsed.order[0]?.toLowerCase() !== 'v' || tags.v !== 'BIMI1') problems.push('the record must start with "v=BIMI1"');
      if (!('l' in tags)) problems.push('the l= (logo location) tag is missing');
      const l = tags.l ?? '';
      const a = tags.a ?? '';
      if (l !== '' && !httpsUrl(l)) problems.push(`l=${l} is not an https URL`);
      if (a !== '' && !httpsUrl(a)) problems.push(`a=${a} is not an https URL`);
      details.logoUrl = l || null;
      details.authorityUrl = a || null;
      details.declined = 'l' in tags && l === '' && a === '';
    }
    if (problems.length) observe('BIMI_RECORD_INVALID', { recordName, problem: problems.join('; ') });
    if (!details.declined) {
      if (!subject.dmarc || !subject.dmarc.testable) {
        // The logo's fate hangs on DMARC, which this check could not read: say nothing rather than guess.
        details.error = 'the DMARC result of this check is not available';
        return finish('untestable', 'dmarc_untestable');
      }
      const why = dmarcNotEnforced(subject.dmarc);
      details.dmarcEnforced = why === null;
      if (why) observe('BIMI_DMARC_NOT_ENFORCED', { why });
    }
    return done();
  } catch (err) {
    if (ctx.signal.aborted) {
      details.error = 'the check deadline passed before DNS answered';
      return finish('untestable', 'deadline_exceeded');
    }
    throw err;
  }
}

export const bimiProbe = defineProbe<BimiDetails, BimiSubject>({
  name: 'bimi',
  scope: 'domain',
  title: 'BIMI record (default._bimi) and whether DMARC enforcement lets the logo show',
  needs: ['dmarc'],
  subjects: (plan) => {
    const dmarc = plan.results('dmarc')[0] as ProbeResult<DmarcDetails> | undefined;
    const view: BimiDmarcView | null = dmarc
      ? { testable: dmarc.status !== 'untestable', record: dmarc.details.record, effectivePolicy: dmarc.details.effectivePolicy, tags: dmarc.details.tags ?? {} }
      : null;
    return [{ domain: plan.domain.name, dmarc: view }];
  },
  run: (ctx, subject) => probeBimi(ctx, subject),
  findings: BIMI_FINDINGS,
  policy: bimiPolicy,
});
