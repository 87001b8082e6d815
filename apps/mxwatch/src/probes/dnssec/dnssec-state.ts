/**
 * The DNSSEC state of one answer, as a validating resolver tells it (RFC 4035 section 4.3):
 * - secure: answered (data, NODATA or NXDOMAIN) with AD set;
 * - insecure: answered without AD (no chain of trust reaches the name);
 * - bogus: SERVFAIL with CD=0 while the same question answers with CD=1 (the data is there, its
 *   signatures are not), or an RFC 8914 extended error of the validation kind;
 * - indeterminate: we could not tell (timeout, a server failing with CD=1 too, EDE 5).
 *
 * And whether the resolver validates at all (the canary): a name that must validate has to come
 * back with AD, a deliberately broken one has to fail. Checked once, then hourly, per resolver.
 */
import type { DnsAnswer, DnsRecordType, ExtendedDnsError, Resolver } from '../probe.types.js';

export type DnssecState = 'secure' | 'insecure' | 'bogus' | 'indeterminate';

export interface Classified<T extends DnsRecordType> {
  state: DnssecState;
  /** The CD=0 answer (what senders get). */
  answer: DnsAnswer<T>;
  /** With CD=1, asked only to tell bogus from a failing server. */
  cdAnswer: DnsAnswer<T> | null;
  ede: ExtendedDnsError[];
  /** One line for people. */
  detail: string;
}

/** RFC 8914 codes that say validation failed (6 DNSSEC Bogus, 7-12 the specific causes). */
const BOGUS_EDE = new Set([6, 7, 8, 9, 10, 11, 12]);
/** RFC 8914 code 5, DNSSEC Indeterminate. */
const INDETERMINATE_EDE = 5;

type Failed<T extends DnsRecordType> = Extract<DnsAnswer<T>, { ok: false }>;

/** The failure of an answer that did not answer (NXDOMAIN and NODATA are answers), else null. */
function failure<T extends DnsRecordType>(a: DnsAnswer<T>): Failed<T> | null {
  if (a.ok) return null;
  const f = a as Failed<T>;
  return f.error === 'nxdomain' || f.error === 'nodata' ? null : f;
}

function edeText(ede: ExtendedDnsError[]): string {
  return ede.map((e) => `EDE ${e.code}${e.text ? ` ${e.text}` : ''}`).join(', ');
}

export async function classify<T extends DnsRecordType>(resolver: Resolver, name: string, type: T, signal?: AbortSignal): Promise<Classified<T>> {
  const answer = await resolver.resolve(name, type, { dnssec: true, signal });
  const ede = answer.dnssec?.ede ?? [];
  const base = { answer, cdAnswer: null, ede };
  const failed = failure(answer);
  if (!failed) {
    if (!answer.dnssec) return { ...base, state: 'indeterminate', detail: `the resolver reported no DNSSEC flags for ${name} ${type}` };
    const secure = answer.dnssec.authenticated;
    return { ...base, state: secure ? 'secure' : 'insecure', detail: `${name} ${type} answered ${secure ? 'with' : 'without'} AD` };
  }
  if (failed.error !== 'servfail') return { ...base, state: 'indeterminate', detail: `${name} ${type}: ${failed.error} (${failed.cause})` };
  if (ede.some((e) => BOGUS_EDE.has(e.code))) return { ...base, state: 'bogus', detail: `${name} ${type}: SERVFAIL, ${edeText(ede)}` };
  if (ede.some((e) => e.code === INDETERMINATE_EDE)) return { ...base, state: 'indeterminate', detail: `${name} ${type}: SERVFAIL, ${edeText(ede)}` };
  const cdAnswer = await resolver.resolve(name, type, { dnssec: true, checkingDisabled: true, signal });
  const cdFailed = failure(cdAnswer);
  if (!cdFailed) {
    return { answer, cdAnswer, ede, state: 'bogus', detail: `${name} ${type}: SERVFAIL with validation, answers with checking disabled${ede.length ? ` (${edeText(ede)})` : ''}` };
  }
  return { answer, cdAnswer, ede, state: 'indeterminate', detail: `${name} ${type}: SERVFAIL with and without checking disabled (${cdFailed.error})` };
}

/** The worst of several states: bogus > indeterminate > insecure > secure. */
export function worstState(states: readonly DnssecState[]): DnssecState {
  for (const s of ['bogus', 'indeterminate', 'insecure'] as const) if (states.includes(s)) return s;
  return 'secure';
}

// ---------------------------------------------------------------------------------------------
// Canary
// ---------------------------------------------------------------------------------------------

export interface DnssecCanary {
  signed: string;
  broken: string;
}

/** RFC 9364's root is signed; dnssec-failed.org is kept deliberately broken by Comcast for this test. */
export const DEFAULT_CANARY: DnssecCanary = { signed: '.', broken: 'dnssec-failed.org' };

export type CanaryVerdict =
  | { validating: true; checkedAt: number }
  | { validating: false; checkedAt: number; why: string }
  /** Our resolver did not answer the canary: nothing can be concluded, and nothing is claimed. */
  | { validating: null; checkedAt: number; why: string };

export const CANARY_TTL_MS = 60 * 60_000;
const UNKNOWN_TTL_MS = 60_000;

const verdicts = new WeakMap<Resolver, Map<string, { at: number; ttl: number; verdict: Promise<CanaryVerdict> }>>();

async function checkCanary(resolver: Resolver, canary: DnssecCanary, now: number): Promise<CanaryVerdict> {
  const [signed, broken] = await Promise.all([
    resolver.resolve(canary.signed, 'SOA', { dnssec: true }),
    resolver.resolve(canary.broken, 'A', { dnssec: true }),
  ]);
  const signedFailed = failure(signed);
  if (signedFailed) return { validating: null, checkedAt: now, why: `${canary.signed} SOA: ${signedFailed.error} (${signedFailed.cause})` };
  if (!signed.dnssec?.authenticated) return { validating: false, checkedAt: now, why: `${canary.signed} SOA answered without AD: the resolver does not validate DNSSEC` };
  const brokenFailed = failure(broken);
  if (!brokenFailed) return { validating: false, checkedAt: now, why: `${canary.broken}, which fails validation, answered: the resolver does not reject bogus data` };
  if (brokenFailed.error !== 'servfail') return { validating: null, checkedAt: now, why: `${canary.broken} A: ${brokenFailed.error} (${brokenFailed.cause})` };
  return { validating: true, checkedAt: now };
}

/**
 * Whether `resolver` validates, checked at first use and then at most hourly (a minute after an
 * inconclusive check). The verdict is shared by every check in this process, so no one check's
 * abort signal is passed down: the resolver's own timeouts bound it.
 */
export function canaryVerdict(resolver: Resolver, canary: DnssecCanary, options: { now?: () => number } = {}): Promise<CanaryVerdict> {
  const now = (options.now ?? Date.now)();
  let perResolver = verdicts.get(resolver);
  if (!perResolver) {
    perResolver = new Map();
    verdicts.set(resolver, perResolver);
  }
  const key = `${canary.signed}|${canary.broken}`;
  const known = perResolver.get(key);
  if (known && now - known.at < known.ttl) return known.verdict;
  const entry = { at: now, ttl: CANARY_TTL_MS, verdict: checkCanary(resolver, canary, now) };
  perResolver.set(key, entry);
  entry.verdict.then(
    (v) => {
      if (v.validating === null) entry.ttl = UNKNOWN_TTL_MS;
    },
    () => perResolver.get(key) === entry && perResolver.delete(key),
  );
  return entry.verdict;
}

/** Forgets every canary verdict about `resolver` (tests, and a resolver reconfigured at runtime). */
export function forgetCanary(resolver: Resolver): void {
  verdicts.delete(resolver);
}
