/**
 * DMARC probe (RFC 7489; DMARCbis where it differs): finds the record receivers apply to the
 * domain (`_dmarc.<domain>`, then the organisational domain through the Public Suffix List),
 * checks it, the policy in force, and whether external report addresses accept the reports.
 */
import { normaliseDomainName } from '../../transport/dns/dns-names.js';
import { defineProbe, statusFromObservations, resultFinisher } from '../probe-definition.js';
import { dmarcPolicy } from './dmarc.policy.js';
import type { DnsAnswer, DnsErrorKind, DnsRecordType, ProbeContext, ProbeObservation, ProbeResult, ProbeStatus } from '../probe.types.js';
import { resolveConclusive, untestableCause } from '../dns-lookup.js';
import { organisationalDomain } from '../spf/spf-evaluator.js';
import { isDmarcRecord, looksLikeDmarc, parseDmarc, type DmarcPolicy } from './dmarc-record.js';
import { DMARC_FINDINGS } from './dmarc.findings.js';

export type DmarcReportDestination = {
  uri: string;
  tag: 'rua' | 'ruf';
  host: string | null;
  /** Outside the record domain's organisational domain. */
  external: boolean;
  /** Whether `<recordDomain>._report._dmarc.<host>` authorises it; null when not external or not mailto. */
  authorized: boolean | null;
};

export type DmarcDetails = {
  domain: string;
  organisationalDomain: string;
  /** Where the record in force was found (`_dmarc.<domain>` or `_dmarc.<org>`); null when none. */
  recordName: string | null;
  recordDomain: string | null;
  record: string | null;
  /** `domain`: found at the domain itself; `organisational`: found at the organisational domain. */
  source: 'domain' | 'organisational' | null;
  tags: Record<string, string>;
  /** The policy receivers apply to mail from this domain, and the tag it comes from. */
  effectivePolicy: DmarcPolicy | null;
  policyTag: 'p' | 'sp' | 'np' | null;
  reportDestinations: DmarcReportDestination[];
  error?: string;
};

export type DmarcSubject = { domain: string };

type Code = keyof typeof DMARC_FINDINGS;


export async function probeDmarc(ctx: ProbeContext, domainInput: string): Promise<ProbeResult<DmarcDetails>> {
  const startedAt = ctx.now();
  const norm = normaliseDomainName(domainInput);
  const domain = norm.ok ? norm.name : domainInput.trim().toLowerCase().replace(/\.$/, '');
  const org = organisationalDomain(domain);
  const details: DmarcDetails = {
    domain, organisationalDomain: org, recordName: null, recordDomain: null, record: null, source: null, tags: {}, effectivePolicy: null, policyTag: null, reportDestinations: [],
  };
  const observations: ProbeObservation[] = [];
  const observe = (code: Code, params: ProbeObservation['params']) => observations.push({ code, target: domain, params: { domain, ...params } });
  const finish = resultFinisher<DmarcDetails>(ctx, 'dmarc', domain, startedAt, details, observations);
  const resolve = <T extends DnsRecordType>(name: string, type: T): Promise<DnsAnswer<T>> => resolveConclusive(ctx, name, type);

  try {
    const names = [...new Set([`_dmarc.${domain}`, `_dmarc.${org}`])];
    const syntax: string[] = [];
    const syntaxAt: string[] = [];
    for (const name of names) {
      const txt = await resolve(name, 'TXT');
      const records = txt.ok ? txt.records : [];
      for (const r of records.filter(looksLikeDmarc)) {
        syntax.push(`"${r}" is discarded by receivers: a DMARC record must start with "v=DMARC1"`);
        syntaxAt.push(name);
      }
      const dmarc = records.filter(isDmarcRecord);
      if (dmarc.length > 1) {
        details.recordName = name;
        observe('DMARC_MULTIPLE', { recordName: name, count: dmarc.length });
        return finish('fail', 'dmarc_multiple');
      }
      if (dmarc.length === 1) {
        details.recordName = name;
        details.record = dmarc[0]!;
        break;
      }
      // NXDOMAIN and an empty answer both move the search on (RFC 7489 section 6.6.3).
    }

    if (details.record === null) {
      const self = await resolve(domain, 'TXT');
      if (!self.ok && self.error === 'nxdomain' && syntax.length === 0) {
        // The MX probe reports a domain that does not exist; "no DMARC" on top of that would be noise.
        details.error = `${domain} does not exist (NXDOMAIN)`;
        return finish('pass', 'domain_nxdomain');
      }
      if (syntax.length) observe('DMARC_SYNTAX', { recordName: syntaxAt[0]!, problems: syntax.join('; ') });
      observe('DMARC_MISSING', { names: names.join(', ') });
      return finish(statusFromObservations(observations, DMARC_FINDINGS), 'dmarc_missing');
    }

    const recordName = details.recordName!;
    const recordDomain = recordName.slice('_dmarc.'.length);
    details.recordDomain = recordDomain;
    details.source = recordDomain === domain ? 'domain' : 'organisational';
    const parsed = parseDmarc(details.record);
    details.tags = parsed.tags;
    syntax.push(...parsed.errors);
    if (syntax.length) observe('DMARC_SYNTAX', { recordName, problems: syntax.join('; ') });
    if (parsed.unknownTags.length) observe('DMARC_TAG_UNKNOWN', { recordName, tags: parsed.unknownTags.join(', ') });
    if (parsed.deprecatedTags.length) observe('DMARC_TAG_DEPRECATED', { recordName, tags: parsed.deprecatedTags.join(', ') });

    let tag: 'p' | 'sp' | 'np' = 'p';
    if (details.source === 'organisational') {
      // np (DMARCbis) covers names that do not exist; sp every other subdomain of the organisational domain.
      const self = await resolve(domain, 'TXT');
      const exists = self.ok || self.error !== 'nxdomain';
      tag = !exists && 'np' in parsed.tags ? 'np' : 'sp' in parsed.tags ? 'sp' : 'p';
    }
    details.policyTag = tag;
    const declared = parsed[tag];
    // Section 6.6.3: an invalid or missing policy is applied as "none" when the record is otherwise usable.
    details.effectivePolicy = declared ?? 'none';
    if (declared === 'none') observe('DMARC_POLICY_NONE', { recordName, tag: `${tag}=none` });
    else if (declared === null && !(tag in parsed.tags) && !('p' in parsed.tags) && parsed.rua.length) {
      observe('DMARC_POLICY_NONE', { recordName, tag: 'no p tag, read as p=none' });
    }

    if (parsed.rua.length === 0) observe('DMARC_NO_REPORTS', { recordName });
    const recordOrg = organisationalDomain(recordDomain);
    for (const [uriTag, uris] of [['rua', parsed.rua], ['ruf', parsed.ruf]] as const) {
      for (const u of uris) {
        const external = u.host !== null && organisationalDomain(u.host) !== recordOrg;
        let authorized: boolean | null = null;
        if (external) {
          // A wildcard (`*._report._dmarc.<host>`) answers this name too: DNS expands it.
          const auth = await resolve(`${recordDomain}._report._dmarc.${u.host}`, 'TXT');
          authorized = auth.ok && auth.records.some((r) => /^v\s*=\s*DMARC1\s*(;|$)/i.test(r));
        }
        details.reportDestinations.push({ uri: u.uri, tag: uriTag, host: u.host, external, authorized });
      }
    }
    const unauthorized = details.reportDestinations.filter((d) => d.authorized === false);
    if (unauthorized.length) {
      observe('DMARC_RUA_UNAUTHORIZED', { recordDomain, destinations: [...new Set(unauthorized.map((d) => `${d.tag}=${d.uri}`))].join(', ') });
    }
    const status = statusFromObservations(observations, DMARC_FINDINGS);
    return finish(status, status === 'pass' ? undefined : observations.find((o) => DMARC_FINDINGS[o.code as Code].severity !== 'info')?.code.toLowerCase());
  } catch (err) {
    const cause = untestableCause(err, ctx);
    if (!cause) throw err;
    details.error = cause.error;
    return finish('untestable', cause.reason);
  }
}

export const DMARC_POLICY_LABELS = ['none', 'quarantine', 'reject', 'missing'] as const;

export const dmarcProbe = defineProbe<DmarcDetails, DmarcSubject>({
  name: 'dmarc',
  scope: 'domain',
  title: 'DMARC record in force (own or organisational domain), policy, report authorisation',
  needs: [],
  subjects: (plan) => [{ domain: plan.domain.name }],
  run: (ctx, subject) => probeDmarc(ctx, subject.domain),
  findings: DMARC_FINDINGS,
  policy: dmarcPolicy,
  metrics: {
    specs: [
      { name: 'mxwatch_dmarc_policy_info', help: 'The DMARC policy in force for the domain (none, quarantine, reject, or missing); value 1', type: 'gauge', labelNames: ['domain', 'policy'], domainCount: { name: 'mxwatch_dmarc_policy_domains', help: 'Domains by the DMARC policy in force at their last conclusive check (the policies of mxwatch_dmarc_policy_info).' } },
    ],
    series(result, domain) {
      if (result.status === 'untestable') return 'keep';
      const policy = result.details.record === null ? 'missing' : (result.details.effectivePolicy ?? 'none');
      return [{ metric: 'mxwatch_dmarc_policy_info', labels: { domain, policy }, value: 1 }];
    },
  },
});
