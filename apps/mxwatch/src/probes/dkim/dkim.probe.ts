/**
 * DKIM probe: the public keys at the selectors the operator named. Selectors cannot be listed
 * from DNS, so a domain without `dkimSelectors` has nothing to check, and a missing key is only
 * ever reported for a selector someone said is in use.
 */
import { createHash, createPublicKey } from 'node:crypto';
import { normaliseDomainName } from '../../transport/dns/dns-names.js';
import { defineProbe, statusFromObservations, resultFinisher } from '../probe-definition.js';
import { dkimPolicy } from './dkim.policy.js';
import type { DnsErrorKind, ProbeContext, ProbeObservation, ProbeResult, ProbeStatus } from '../probe.types.js';
import { DNS_INCONCLUSIVE_ERRORS } from '../../transport/transport.types.js';
import { DKIM_FINDINGS } from './dkim.findings.js';

export type DkimDetails = {
  domain: string;
  selector: string;
  name: string;
  record: string | null;
  tags: Record<string, string>;
  keyType: 'rsa' | 'ed25519' | null;
  bits: number | null;
  /** SHA-256 of the decoded key, hex: tells a replaced key from an unchanged one. */
  fingerprint: string | null;
  revoked: boolean;
  testing: boolean;
  error?: string;
};

export type DkimSubject = { domain: string; selector: string };

type Code = keyof typeof DKIM_FINDINGS;

/** RFC 6376 section 3.2 tag list; null with a reason when it is not one. */
export function parseTagList(text: string): { tags: Record<string, string>; order: string[] } | string {
  const tags: Record<string, string> = {};
  const order: string[] = [];
  for (const raw of text.split(';')) {
    const part = raw.trim();
    if (part === '') continue;
    const eq = part.indexOf('=');
    if (eq <= 0) return `"${part}" is not a tag=value pair`;
    const name = part.slice(0, eq).trim();
    if (!/^[A-Za-z][A-Za-z0-9_]*$/.test(name)) return `"${name}" is not a valid tag name`;
    if (name in tags) return `the tag "${name}" appears twice`;
    tags[name] = part.slice(eq + 1).trim();
    order.push(name);
  }
  return { tags, order };
}

export async function probeDkim(ctx: ProbeContext, subject: DkimSubject): Promise<ProbeResult<DkimDetails>> {
  const startedAt = ctx.now();
  const norm = normaliseDomainName(subject.domain);
  const domain = norm.ok ? norm.name : subject.domain.toLowerCase();
  const selector = subject.selector.toLowerCase().replace(/\.$/, '');
  const name = `${selector}._domainkey.${domain}`;
  const details: DkimDetails = { domain, selector, name, record: null, tags: {}, keyType: null, bits: null, fingerprint: null, revoked: false, testing: false };
  const observations: ProbeObservation[] = [];
  const observe = (code: Code, params: ProbeObservation['params'], severity?: ProbeObservation['severity']) =>
    observations.push({ code, target: name, params: { domain, selector, name, ...params }, ...(severity ? { severity } : {}) });
  const finish = resultFinisher<DkimDetails>(ctx, 'dkim', name, startedAt, details, observations);
  const done = () => {
    const status = statusFromObservations(observations, DKIM_FINDINGS);
    return finish(status, status === 'pass' ? undefined : observations[0]?.code.toLowerCase());
  };
  const invalid = (problem: string) => {
    details.error = problem;
    observe('DKIM_KEY_INVALID', { problem });
    return done();
  };

  let answer;
  try {
    // The resolver follows a CNAME'd selector (providers delegate keys that way) and joins the TXT strings without spaces.
    answer = await ctx.resolver.resolve(name, 'TXT', { signal: ctx.signal });
  } catch (err) {
    if (!ctx.signal.aborted) throw err;
    details.error = 'the check deadline passed before DNS answered';
    return finish('untestable', 'deadline_exceeded');
  }
  if (!answer.ok) {
    if (DNS_INCONCLUSIVE_ERRORS.has(answer.error)) {
      details.error = answer.cause;
      return finish('untestable', `dns_${answer.error}`);
    }
    details.error = answer.cause;
    observe('DKIM_KEY_MISSING', {});
    return done();
  }
  const candidates = answer.records.filter((r) => /(^|;)\s*(v\s*=\s*DKIM1|p\s*=|k\s*=)/i.test(r));
  if (candidates.length === 0) {
    details.error = `${name} has TXT records, but none is a DKIM key`;
    observe('DKIM_KEY_MISSING', {});
    return done();
  }
  if (candidates.length > 1) return invalid(`${candidates.length} key records at one selector; verifiers may pick either`);
  const record = candidates[0]!;
  details.record = record;
  const parsed = parseTagList(record);
  if (typeof parsed === 'string') return invalid(parsed);
  const { tags, order } = parsed;
  details.tags = tags;
  if ('v' in tags && (order[0] !== 'v' || tags.v !== 'DKIM1')) return invalid(order[0] !== 'v' ? '"v=DKIM1" must be the first tag when present' : `"v=${tags.v}": the version must be "DKIM1"`);
  const k = (tags.k ?? 'rsa').toLowerCase();
  if (k !== 'rsa' && k !== 'ed25519') return invalid(`"k=${tags.k}" is not a key type receivers know (rsa or ed25519)`);
  if ('s' in tags && !tags.s!.split(':').map((s) => s.trim().toLowerCase()).some((s) => s === '*' || s === 'email')) {
    return invalid(`"s=${tags.s}": the key is not for email (needs * or email)`);
  }
  if (tags.t !== undefined && tags.t.split(':').map((f) => f.trim().toLowerCase()).includes('y')) {
    details.testing = true;
    observe('DKIM_TESTING', {});
  }
  if (!('p' in tags)) return invalid('the required "p" tag is missing');
  // Base64 in a tag value may be folded with whitespace (RFC 6376 section 3.2).
  const p = tags.p!.replace(/\s+/g, '');
  if (p === '') {
    details.revoked = true;
    observe('DKIM_KEY_REVOKED', {});
    return done();
  }
  if (!/^[A-Za-z0-9+/]+={0,2}$/.test(p) || p.length % 4 !== 0) return invalid('p= is not valid base64');
  const der = Buffer.from(p, 'base64');
  details.fingerprint = createHash('sha256').update(der).digest('hex');
  if (k === 'ed25519') {
    details.keyType = 'ed25519';
    // RFC 8463: the raw 32-byte public key, not an SPKI structure.
    if (der.length !== 32) return invalid(`an ed25519 key must be 32 bytes, this one is ${der.length}`);
    details.bits = 256;
    return done();
  }
  details.keyType = 'rsa';
  let bits: number | undefined;
  try {
    const key = createPublicKey({ key: der, format: 'der', type: 'spki' });
    if (key.asymmetricKeyType !== 'rsa') return invalid(`p= holds a ${key.asymmetricKeyType ?? 'non-RSA'} key, but k=rsa`);
    bits = key.asymmetricKeyDetails?.modulusLength;
  } catch (err) {
    return invalid(`p= is not an RSA public key (SubjectPublicKeyInfo): ${(err as Error).message}`);
  }
  details.bits = bits ?? null;
  if (bits !== undefined && bits < 1024) observe('DKIM_KEY_WEAK', { bits }, 'critical');
  else if (bits !== undefined && bits < 2048) observe('DKIM_KEY_WEAK', { bits });
  return done();
}

export const dkimProbe = defineProbe<DkimDetails, DkimSubject>({
  name: 'dkim',
  scope: 'domain',
  title: 'DKIM public keys at the selectors named in the domain\'s dkimSelectors',
  needs: [],
  subjects: (plan) => [...new Set(plan.domain.dkimSelectors ?? [])].map((selector) => ({ domain: plan.domain.name, selector })),
  run: (ctx, subject) => probeDkim(ctx, subject),
  findings: DKIM_FINDINGS,
  policy: dkimPolicy,
  metrics: {
    specs: [
      { name: 'mxwatch_dkim_key_bits', help: 'Size of the DKIM public key at each configured selector (ed25519: 256)', type: 'gauge', labelNames: ['domain', 'selector'] },
    ],
    series(result, domain) {
      if (result.status === 'untestable') return 'keep';
      return result.details.bits === null ? [] : [{ metric: 'mxwatch_dkim_key_bits', labels: { domain, selector: result.details.selector }, value: result.details.bits }];
    },
  },
});
