/**
 * PTR probe: reverse DNS and forward-confirmed reverse DNS of every MX address and every sending
 * address (configured, or a single host the domain's own SPF part authorises), and the name each
 * MX greets with in its banner and EHLO reply (read from this check's SMTP results, never a new
 * connection). RFC 5321 forbids rejecting mail over a HELO/PTR mismatch, so that is not checked;
 * what is checked is that the greeting is a name at all.
 */
import ipaddr from 'ipaddr.js';
import { normaliseDomainName, reverseIp } from '../../transport/dns/dns-names.js';
import { mxAddresses, mxAnswer } from '../mx/mx.definition.js';
import { defineProbe, statusFromObservations, type PlanView, resultFinisher } from '../probe-definition.js';
import type { DnsAnswer, DnsErrorKind, ProbeContext, ProbeObservation, ProbeResult, ProbeStatus } from '../probe.types.js';
import { resolveConclusive, untestableCause } from '../dns-lookup.js';
import { PTR_FINDINGS } from './ptr.findings.js';

export type PtrRole = 'mx' | 'sending';

export type Greeting = { where: 'banner' | 'ehlo'; endpoint: string; name: string };

export type PtrSubject = {
  domain: string;
  ip: string;
  roles: PtrRole[];
  /** MX host names that resolve to this address. */
  hosts: string[];
  greetings: Greeting[];
};

export type PtrDetails = {
  ip: string;
  roles: PtrRole[];
  hosts: string[];
  reverseName: string;
  ptrNames: string[];
  /** PTR names whose A/AAAA records include the address. */
  confirmedNames: string[];
  fcrdns: boolean | null;
  greetings: Array<Greeting & { valid: boolean }>;
  error?: string;
};

type Code = keyof typeof PTR_FINDINGS;
/** Section 4.6.4 of RFC 7208 bounds PTR names to 10 for the same reason: the PTR set is not the domain's to control. */
const MAX_PTR_NAMES = 10;
const MAX_SUBJECTS = 64;

export function reverseName(ip: string): string {
  const labels = reverseIp(ip);
  return `${labels}.${labels.split('.').length === 4 ? 'in-addr.arpa' : 'ip6.arpa'}`;
}

/** RFC 5321 section 4.1.1.1: a fully qualified domain name, or an address literal (`[192.0.2.1]`, `[IPv6:2001:db8::1]`). */
export function isValidGreetingName(name: string): boolean {
  const literal = /^\[(?:IPv6:)?([^\]]+)\]$/i.exec(name);
  if (literal) {
    const inner = literal[1]!;
    return name.toLowerCase().startsWith('[ipv6:') ? ipaddr.IPv6.isValid(inner) : ipaddr.IPv4.isValidFourPartDecimal(inner);
  }
  const norm = normaliseDomainName(name);
  return norm.ok && name.replace(/\.$/, '').includes('.');
}

/** The domain or address literal a 220 banner or 250 EHLO reply starts with. */
function greetingName(text: string): string | null {
  const first = text.trim().split(/\s+/)[0];
  return first ? first : null;
}

type SmtpLike = { host?: string; ip?: string; port?: number; role?: string; banner?: string | null; bannerCode?: number | null; transcript?: string[] };

/** The names a server greeted with, from an SMTP result's banner and transcript. */
export function greetingsOf(details: SmtpLike): Greeting[] {
  const endpoint = `${details.host}[${details.ip}]:${details.port}`;
  const out: Greeting[] = [];
  if (details.bannerCode === 220 && details.banner) {
    const name = greetingName(details.banner.split('\n')[0]!);
    // A banner with no text at all carries no name to judge.
    if (name) out.push({ where: 'banner', endpoint, name });
  }
  const lines = details.transcript ?? [];
  const ehlo = lines.findIndex((l) => /^C: EHLO /i.test(l));
  if (ehlo >= 0) {
    const reply = lines.slice(ehlo + 1).find((l) => l.startsWith('S: ') || l.startsWith('C'));
    const m = reply ? /^S: 250[- ](.*)$/.exec(reply) : null;
    const name = m ? greetingName(m[1]!) : null;
    if (name) out.push({ where: 'ehlo', endpoint, name });
  }
  return out;
}

export function ptrSubjects(plan: PlanView, allowed: (ip: string) => boolean): PtrSubject[] {
  const byIp = new Map<string, PtrSubject>();
  const add = (ip: string, role: PtrRole, host?: string) => {
    let canonical: string;
    try {
      canonical = ipaddr.process(ip).toString();
    } catch {
      return;
    }
    if (!allowed(canonical)) return;
    let s = byIp.get(canonical);
    if (!s) {
      if (byIp.size >= MAX_SUBJECTS) return;
      s = { domain: plan.domain.name, ip: canonical, roles: [], hosts: [], greetings: [] };
      byIp.set(canonical, s);
    }
    if (!s.roles.includes(role)) s.roles.push(role);
    if (host && !s.hosts.includes(host)) s.hosts.push(host);
  };
  for (const { host, ip } of mxAddresses(mxAnswer(plan.results('mx')))) add(ip, 'mx', host);
  for (const ip of plan.domain.sendingIps) add(ip, 'sending');
  for (const r of plan.results('spf')) {
    if (r.status === 'untestable') continue;
    for (const network of (r.details as { ownNetworks?: string[] }).ownNetworks ?? []) {
      const [ip, length] = network.split('/');
      if ((length === '32' && ipaddr.IPv4.isValid(ip!)) || (length === '128' && ipaddr.IPv6.isValid(ip!))) add(ip!, 'sending');
    }
  }
  for (const r of plan.results('smtp')) {
    const d = r.details as SmtpLike;
    if (d.port !== 25 || !d.ip) continue;
    let canonical: string;
    try {
      canonical = ipaddr.process(d.ip).toString();
    } catch {
      continue;
    }
    byIp.get(canonical)?.greetings.push(...greetingsOf(d));
  }
  return [...byIp.values()];
}


export async function probePtr(ctx: ProbeContext, subject: PtrSubject): Promise<ProbeResult<PtrDetails>> {
  const startedAt = ctx.now();
  const { ip } = subject;
  const details: PtrDetails = {
    ip, roles: subject.roles, hosts: subject.hosts, reverseName: reverseName(ip), ptrNames: [], confirmedNames: [], fcrdns: null,
    greetings: subject.greetings.map((g) => ({ ...g, valid: isValidGreetingName(g.name) })),
  };
  const observations: ProbeObservation[] = [];
  const roles = subject.roles.includes('sending') ? (subject.roles.includes('mx') ? 'MX and sending address' : 'sending address') : `MX address of ${subject.hosts.join(', ') || subject.domain}`;
  const observe = (code: Code, params: ProbeObservation['params'], severity?: ProbeObservation['severity']) =>
    observations.push({ code, target: ip, params: { ip, domain: subject.domain, ...params }, ...(severity ? { severity } : {}) });
  const finish = resultFinisher<PtrDetails>(ctx, 'ptr', ip, startedAt, details, observations);
  const resolve = <T extends 'PTR' | 'A' | 'AAAA'>(name: string, type: T): Promise<DnsAnswer<T>> => resolveConclusive(ctx, name, type);

  try {
    // One finding per address: the banner and the EHLO reply usually carry the same bad name.
    const invalid = details.greetings.filter((g) => !g.valid);
    if (invalid.length) {
      observe('HELO_NAME_INVALID', {
        name: [...new Set(invalid.map((g) => g.name))].join('", "'),
        where: invalid.map((g) => `${g.where === 'banner' ? 'SMTP banner' : 'EHLO reply'} on ${g.endpoint}`).join(', '),
      });
    }

    const ptr = await resolve(details.reverseName, 'PTR');
    const names = ptr.ok ? [...new Set(ptr.records.map((n) => n.toLowerCase().replace(/\.$/, '')))] : [];
    details.ptrNames = names;
    if (names.length === 0) {
      const sending = subject.roles.includes('sending');
      observe('PTR_MISSING', { roles, suggestion: subject.hosts[0] ?? `mail.${subject.domain}` }, sending ? undefined : 'info');
    } else {
      const family = ipaddr.parse(ip).kind() === 'ipv4' ? 'A' : 'AAAA';
      const want = ipaddr.parse(ip).toNormalizedString();
      for (const name of names.slice(0, MAX_PTR_NAMES)) {
        const forward = await resolve(name, family);
        const addresses = forward.ok ? forward.records : [];
        if (addresses.some((a) => safeNormalised(a) === want)) details.confirmedNames.push(name);
      }
      details.fcrdns = details.confirmedNames.length > 0;
      if (!details.fcrdns) observe('PTR_FCRDNS_MISMATCH', { names: names.join(', ') });
    }
    const status = statusFromObservations(observations, PTR_FINDINGS);
    return finish(status, status === 'pass' ? undefined : observations[0]?.code.toLowerCase());
  } catch (err) {
    const cause = untestableCause(err, ctx);
    if (!cause) throw err;
    details.error = cause.error;
    return finish('untestable', cause.reason);
  }
}

function safeNormalised(ip: string): string | null {
  try {
    return ipaddr.parse(ip).toNormalizedString();
  } catch {
    return null;
  }
}

export const ptrProbe = defineProbe<PtrDetails, PtrSubject>({
  name: 'ptr',
  scope: 'address',
  title: 'Reverse DNS (PTR, forward-confirmed) of MX and sending addresses, and the names MX hosts greet with',
  needs: ['mx', 'smtp', 'spf'],
  subjects: (plan, ctx) => ptrSubjects(plan, (ip) => ctx.addressPolicy.forbiddenRange(ip) === null),
  run: (ctx, subject) => probePtr(ctx, subject),
  findings: PTR_FINDINGS,
  metrics: {
    specs: [
      { name: 'mxwatch_ptr_fcrdns', help: 'Whether the address has forward-confirmed reverse DNS (1), a PTR that does not resolve back (0); absent without a PTR', type: 'gauge', labelNames: ['ip'] },
    ],
    series(result) {
      if (result.status === 'untestable') return 'keep';
      return result.details.fcrdns === null ? [] : [{ metric: 'mxwatch_ptr_fcrdns', labels: { ip: result.details.ip }, value: result.details.fcrdns ? 1 : 0, owner: 'host' }];
    },
  },
});
