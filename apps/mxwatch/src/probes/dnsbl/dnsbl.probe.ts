/**
 * DNSBL probe: one result per (subject, zone). A zone's answers are only trusted after its
 * RFC 5782 test points behave (2.0.0.127 listed, 1.0.0.127 not; for domain lists the
 * documented test name listed, `invalid` not). The caller computes a zone's health at most
 * once per cycle (probeDnsblZoneHealth) and hands it to every probeDnsbl of that zone.
 */
import { normaliseDomainName, reverseIp } from '../../transport/dns/dns-names.js';
import type { DnsAnswer, ProbeContext, ProbeObservation, ProbeResult, ProbeStatus } from '../probe.types.js';
import { DNS_PATH_ERRORS, type DnsErrorKind } from '../../transport/transport.types.js';
import { classifyDnsblAnswer, REFUSAL_REASONS, type DnsblClassification, type DnsblCode } from './dnsbl-classifier.js';
import { DOMAIN_LIST_NEGATIVE_TEST, dqsZoneFor, zoneConfigFor, type DnsblKind, type DnsblZoneConfig } from './dnsbl-zones.js';

export type DnsblSubject = { kind: 'ip'; ip: string } | { kind: 'domain'; domain: string };

export interface DnsblZoneHealth {
  zone: string;
  /** False only when the test points answered wrongly: the zone's answers are not trusted. */
  healthy: boolean;
  /** False when the test points could not be asked (timeout, refusal, ...); `healthy` stays true then, so one lost packet never hides a listing. */
  verified: boolean;
  /** Why the zone is unhealthy or unverified, for people. */
  reason?: string;
}

export type DnsblDetails = {
  subject: string;
  subjectKind: DnsblKind;
  zone: string;
  state: 'listed' | 'clean' | 'error';
  codes: DnsblCode[];
  /** The list's TXT record at the same name, fetched only after a hit. */
  txt: string | null;
  /** Human account of an error state. */
  error: string | null;
  /** Machine reason of an error state (`query_refused_by_list`, `timeout`, `unknown_answer`, ...). */
  errorReason: string | null;
  zoneHealthy: boolean;
  /** Anything odd about a clean answer (a name that exists without an A record). */
  note?: string;
};

export function dnsblQueryName(subject: DnsblSubject, zone: string): string {
  if (subject.kind === 'ip') return `${reverseIp(subject.ip)}.${zone}`;
  const norm = normaliseDomainName(subject.domain);
  return `${norm.ok ? norm.name : subject.domain.toLowerCase()}.${zone}`;
}

/**
 * Asks a list about the name `<name>` (the query name in the list's public zone). With a Spamhaus
 * DQS key the question goes to the DQS zone instead, and the answer comes back as if the public
 * zone had been asked: the key never reaches a result, a finding, a log or the API.
 */
export async function askList<T extends 'A' | 'TXT'>(ctx: ProbeContext, zone: string, name: string, type: T): Promise<DnsAnswer<T>> {
  const key = ctx.settings.spamhausDqsKey;
  const dqs = dqsZoneFor(zone, key);
  if (!dqs || !key || !name.endsWith(`.${zone}`)) return ctx.dnsblResolver.resolve(name, type, { signal: ctx.signal });
  const asked = `${name.slice(0, -zone.length)}${dqs}`;
  const answer = await ctx.dnsblResolver.resolve(asked, type, { signal: ctx.signal });
  const hide = (text: string) => text.split(dqs).join(`${zone} (via Spamhaus DQS)`).replace(new RegExp(escapeRegExp(key), 'gi'), '<DQS key>');
  if (!answer.ok) return { ...answer, name, cause: hide(answer.cause) };
  // A TXT reason is the list's own text; hide the key there too, should a list ever echo it.
  return type === 'TXT' ? ({ ...answer, name, records: (answer.records as string[]).map(hide) } as DnsAnswer<T>) : { ...answer, name };
}

function escapeRegExp(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

function subjectText(subject: DnsblSubject): string {
  return subject.kind === 'ip' ? subject.ip : subject.domain.toLowerCase();
}

/** Queries the zone's RFC 5782 test points. Never throws for DNS conditions. */
export async function probeDnsblZoneHealth(ctx: ProbeContext, zone: string | DnsblZoneConfig): Promise<DnsblZoneHealth> {
  const config = zoneConfigFor(zone, 'ip');
  const [positive, negative] =
    config.kind === 'ip'
      ? [{ label: '127.0.0.2', name: `2.0.0.127.${config.zone}` }, { label: '127.0.0.1', name: `1.0.0.127.${config.zone}` }]
      : [{ label: config.testName ?? 'test', name: `${config.testName ?? 'test'}.${config.zone}` }, { label: DOMAIN_LIST_NEGATIVE_TEST, name: `${DOMAIN_LIST_NEGATIVE_TEST}.${config.zone}` }];

  let answers: [DnsblClassification, DnsblClassification];
  try {
    answers = await Promise.all(
      [positive, negative].map(async (p) => classifyDnsblAnswer(config, await askList(ctx, config.zone, p.name, 'A'))),
    ) as [DnsblClassification, DnsblClassification];
  } catch (err) {
    if (ctx.signal.aborted) return { zone: config.zone, healthy: true, verified: false, reason: 'the check deadline passed before the test points answered' };
    throw err;
  }
  const [pos, neg] = answers;
  const path = [pos, neg].find((a) => a.state === 'error' && (REFUSAL_REASONS.has(a.reason) || isPathError(a.reason)));
  if (path && path.state === 'error') {
    return { zone: config.zone, healthy: true, verified: false, reason: `test points not answered: ${path.detail}` };
  }
  if (pos.state !== 'listed') {
    const got = pos.state === 'clean' ? 'not listed' : `answered ${pos.answer ?? pos.reason}`;
    return { zone: config.zone, healthy: false, verified: true, reason: `test point ${positive.label} must be listed but is ${got}; the list may be defunct` };
  }
  if (neg.state !== 'clean') {
    const got = neg.state === 'listed' ? `listed (${neg.codes.map((c) => c.code).join(', ')})` : `answered ${neg.answer ?? neg.reason}`;
    return { zone: config.zone, healthy: false, verified: true, reason: `test point ${negative.label} must not be listed but is ${got}; the list answers for everything` };
  }
  return { zone: config.zone, healthy: true, verified: true };
}

/** A classifier reason that is a DNS path error (REFUSED aside: a list's refusal is its own reason). */
function isPathError(reason: string): boolean {
  return reason !== 'refused' && DNS_PATH_ERRORS.has(reason as DnsErrorKind);
}

/**
 * Asks one zone about one subject. An IP is only asked of IP lists and a domain of domain lists
 * (asking otherwise is a caller bug and throws).
 *
 * The one observation on an `untestable` result is DNSBL_QUERY_REFUSED: it does not accuse the
 * subject, it tells the operator that our resolver path is refused by the list, with the fix.
 */
export async function probeDnsbl(
  ctx: ProbeContext,
  subject: DnsblSubject,
  zone: string | DnsblZoneConfig,
  health: DnsblZoneHealth,
): Promise<ProbeResult<DnsblDetails>> {
  const startedAt = ctx.now();
  const config = zoneConfigFor(zone, subject.kind);
  if (config.kind !== subject.kind) throw new Error(`bug: ${subject.kind} subject asked of ${config.kind} list ${config.zone}`);
  const text = subjectText(subject);
  const target = `${text}@${config.zone}`;
  const details: DnsblDetails = {
    subject: text, subjectKind: subject.kind, zone: config.zone, state: 'error', codes: [], txt: null, error: null, errorReason: null, zoneHealthy: health.healthy,
  };
  const done = (status: ProbeStatus, reason: string | undefined, observations: ProbeObservation[]): ProbeResult<DnsblDetails> => ({
    probe: 'dnsbl', target, status, ...(reason ? { reason } : {}), startedAt, durationMs: Math.max(0, ctx.now().getTime() - startedAt.getTime()), details, observations,
  });

  if (!health.healthy) {
    details.error = `the zone failed its test points: ${health.reason ?? 'unknown reason'}`;
    details.errorReason = 'zone_unhealthy';
    return done('untestable', 'zone_unhealthy', [
      { code: 'DNSBL_ZONE_UNHEALTHY', target: config.zone, params: { zone: config.zone, reason: health.reason ?? 'unknown reason' } },
    ]);
  }

  const name = dnsblQueryName(subject, config.zone);
  let verdict: DnsblClassification;
  try {
    verdict = classifyDnsblAnswer(config, await askList(ctx, config.zone, name, 'A'));
  } catch (err) {
    if (!ctx.signal.aborted) throw err;
    details.error = 'the check deadline passed before the list answered';
    details.errorReason = 'deadline';
    return done('untestable', 'deadline_exceeded', []);
  }

  if (verdict.state === 'clean') {
    details.state = 'clean';
    if (verdict.note) details.note = verdict.note;
    return done('pass', undefined, []);
  }

  if (verdict.state === 'error') {
    details.error = verdict.detail;
    details.errorReason = verdict.reason;
    if (REFUSAL_REASONS.has(verdict.reason)) {
      const answer = verdict.answer ?? 'DNS REFUSED';
      return done('untestable', 'dnsbl_query_refused', [
        // Target is the zone: the refusal is about our path to the list, not about this subject.
        { code: 'DNSBL_QUERY_REFUSED', target: config.zone, params: { zone: config.zone, subject: text, answer } },
      ]);
    }
    return done('untestable', isPathError(verdict.reason) ? `dns_${verdict.reason}` : `dnsbl_${verdict.reason}`, []);
  }

  details.state = 'listed';
  details.codes = verdict.codes;
  details.txt = await fetchTxt(ctx, config.zone, name);
  return done('fail', 'listed', [
    {
      code: 'DNSBL_LISTED',
      target,
      params: {
        subject: text,
        zone: config.zone,
        meaning: verdict.codes.map((c) => c.meaning).join('; '),
        code: verdict.codes.map((c) => c.code).join(', '),
        txt: details.txt ? ` — ${details.txt}` : '',
      },
    },
  ]);
}

/** The reason text is a courtesy: its absence or failure never changes the verdict. */
async function fetchTxt(ctx: ProbeContext, zone: string, name: string): Promise<string | null> {
  try {
    const txt = await askList(ctx, zone, name, 'TXT');
    return txt.ok && txt.records.length ? txt.records.join(' | ') : null;
  } catch {
    return null;
  }
}
