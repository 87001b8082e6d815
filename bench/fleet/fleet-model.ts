/**
 * A synthetic fleet of monitored domains with a realistic MX distribution, and the DNS zone
 * that publishes it on the fake DNS. Deterministic for a given seed, so two runs compare.
 *
 * - ~80% of domains are hosted by 5 providers with 2-4 MX hosts each (shared by thousands);
 * - ~15% run their own MX: one MX host per domain on its own 127.x.y.z address;
 * - ~3% have no MX (half fall back to an A record with a mail server, half have nothing);
 * - ~2% publish a null MX (RFC 7505).
 * Every domain publishes SPF as such a domain would (a provider's include, `mx`, `a`, or `-all`
 * for a domain that sends no mail), except ~10% of the self-hosted ones, which publish none.
 * Every address is in 127.0.0.0/8: nothing ever leaves loopback.
 */
import type { FakeDnsServer } from '../../test/rig/dns/fake-dns-server.js';

export const PROBED_PORTS = [25, 587, 465] as const;
export type ProbedPort = (typeof PROBED_PORTS)[number];

export const FLEET_APEX = 'fleet.test';
/** Every mail host lives one label below this, so one wildcard certificate covers them all. */
export const MX_ZONE = `mx.${FLEET_APEX}`;

export interface MailAddress {
  ip: string;
  /** Ports with a listener; the others refuse connections (closed). */
  open: ProbedPort[];
  /** Port 25/587 offer STARTTLS (else STARTTLS_NOT_OFFERED). */
  starttls: boolean;
}

export interface MxHostSpec {
  host: string;
  preference: number;
  ip: string;
}

export type DomainKind = 'provider' | 'self' | 'implicit' | 'no-mail' | 'null-mx';

export interface FleetDomain {
  name: string;
  kind: DomainKind;
  /** Provider index for kind=provider. */
  provider?: number;
  mx: MxHostSpec[];
  /** kind=implicit: the domain's own A record, probed as its implicit MX. */
  a?: string;
  /** The domain's SPF record; null: none published (an SPF_MISSING finding). */
  spf: string | null;
}

export interface DnsblZoneSpec {
  zone: string;
  kind: 'ip' | 'domain';
}

export interface Fleet {
  domains: FleetDomain[];
  /** `spf`: the name a customer's SPF record includes, and the record published there. */
  providers: Array<{ name: string; share: number; hosts: MxHostSpec[]; spf: { name: string; record: string } }>;
  /** Every address that has a mail server, with its behaviour. */
  addresses: Map<string, MailAddress>;
  /** Addresses listed on each IP zone, with the answer code. */
  listings: Array<{ zone: string; ip: string; code: string }>;
}

export interface FleetOptions {
  domains: number;
  seed?: number;
}

/** Share of ALL domains hosted by each provider (sum 0.80), and its MX host count. */
const PROVIDERS = [
  { share: 0.3, hosts: 2 },
  { share: 0.22, hosts: 4 },
  { share: 0.14, hosts: 3 },
  { share: 0.09, hosts: 2 },
  { share: 0.05, hosts: 3 },
];
const SELF_SHARE = 0.15;
const NO_MX_SHARE = 0.03;
/** Self-hosted domains that publish no SPF record: the only SPF findings of the fleet. */
const SELF_WITHOUT_SPF = 0.1;

/** mulberry32: small, fast, good enough to spread a fleet deterministically. */
export function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** The k-th self-hosted address: 127.16.0.1 upwards, never .0 or .255 in the last octet. */
export function selfHostedIp(k: number): string {
  const perB = 254 * 256;
  const b = 16 + Math.floor(k / perB);
  if (b > 255) throw new Error(`too many self-hosted addresses (${k})`);
  const c = Math.floor((k % perB) / 254);
  const d = (k % 254) + 1;
  return `127.${b}.${c}.${d}`;
}

export function buildFleet(options: FleetOptions): Fleet {
  const rand = prng(options.seed ?? 42);
  const n = options.domains;
  const addresses = new Map<string, MailAddress>();
  const listings: Fleet['listings'] = [];

  const providers = PROVIDERS.map((p, i) => {
    const hosts: MxHostSpec[] = [];
    for (let h = 0; h < p.hosts; h++) {
      const ip = `127.1.${i + 1}.${h + 1}`;
      // Big providers' MX hosts take mail on 25 only.
      addresses.set(ip, { ip, open: [25], starttls: true });
      hosts.push({ host: `p${i + 1}-mx${h + 1}.${MX_ZONE}`, preference: 10 * (1 + Math.floor(h / 2)), ip });
    }
    // Customers include the provider's record, published outside fleet.test like a real provider's
    // (another organisational domain: its networks are the provider's, not the customer's own).
    const spf = { name: `_spf.mail-provider${i + 1}.test`, record: `v=spf1 ip4:127.1.${i + 1}.0/24 -all` };
    return { name: `provider${i + 1}`, share: p.share, hosts, spf };
  });
  // One provider address is on a blocklist: a finding for every domain it hosts.
  listings.push({ zone: 'b.barracudacentral.org', ip: providers[4]!.hosts[0]!.ip, code: '127.0.0.2' });

  let selfIndex = 0;
  const newSelfAddress = (): MailAddress => {
    const ip = selfHostedIp(selfIndex++);
    const open: ProbedPort[] = [25];
    if (rand() < 0.3) open.push(587);
    if (rand() < 0.2) open.push(465);
    const address: MailAddress = { ip, open, starttls: rand() >= 0.05 };
    addresses.set(ip, address);
    if (rand() < 0.02) listings.push({ zone: 'zen.spamhaus.org', ip, code: '127.0.0.4' });
    return address;
  };

  const cumulative: number[] = [];
  let acc = 0;
  for (const p of PROVIDERS) cumulative.push((acc += p.share));
  const domains: FleetDomain[] = [];
  const width = String(n).length;
  for (let i = 0; i < n; i++) {
    const name = `d${String(i).padStart(width, '0')}.${FLEET_APEX}`;
    const r = rand();
    const provider = cumulative.findIndex((c) => r < c);
    if (provider !== -1) {
      domains.push({ name, kind: 'provider', provider, mx: providers[provider]!.hosts, spf: `v=spf1 include:${providers[provider]!.spf.name} ~all` });
    } else if (r < acc + SELF_SHARE) {
      const address = newSelfAddress();
      const spf = rand() < SELF_WITHOUT_SPF ? null : 'v=spf1 mx -all';
      domains.push({ name, kind: 'self', mx: [{ host: `mail-d${String(i).padStart(width, '0')}.${MX_ZONE}`, preference: 10, ip: address.ip }], spf });
    } else if (r < acc + SELF_SHARE + NO_MX_SHARE) {
      if (rand() < 0.5) domains.push({ name, kind: 'implicit', mx: [], a: newSelfAddress().ip, spf: 'v=spf1 a -all' });
      else domains.push({ name, kind: 'no-mail', mx: [], spf: 'v=spf1 -all' });
    } else {
      // RFC 7505 section 4.2: a domain that accepts no mail publishes that it sends none either.
      domains.push({ name, kind: 'null-mx', mx: [], spf: 'v=spf1 -all' });
    }
  }
  return { domains, providers, addresses, listings };
}

/** Publishes the fleet (domains, MX hosts, addresses) on the fake DNS. */
export function publishFleet(dns: FakeDnsServer, fleet: Fleet): void {
  dns.setSoa(FLEET_APEX, 60, 3600);
  for (const p of fleet.providers) {
    for (const h of p.hosts) dns.setRecords(h.host, 'A', [h.ip], 3600);
    dns.setSoa(p.spf.name.replace(/^_spf\./, ''), 60, 3600);
    dns.setRecords(p.spf.name, 'TXT', [p.spf.record], 3600);
  }
  for (const d of fleet.domains) {
    if (d.spf !== null) dns.setRecords(d.name, 'TXT', [d.spf], 3600);
    switch (d.kind) {
      case 'provider':
        dns.setRecords(d.name, 'MX', d.mx.map((h) => ({ preference: h.preference, exchange: h.host })), 3600);
        break;
      case 'self':
        dns.setRecords(d.name, 'MX', [{ preference: 10, exchange: d.mx[0]!.host }], 3600);
        dns.setRecords(d.mx[0]!.host, 'A', [d.mx[0]!.ip], 3600);
        break;
      case 'implicit':
        dns.setRecords(d.name, 'A', [d.a!], 3600);
        break;
      case 'no-mail':
        // The name exists (its SPF record), so MX is NODATA, not NXDOMAIN.
        break;
      case 'null-mx':
        dns.setRecords(d.name, 'MX', [{ preference: 0, exchange: '.' }], 3600);
        break;
    }
  }
}

export interface NaiveCounts {
  /** DNS queries the checks would send with no sharing and no cache. */
  dns: number;
  /** SMTP connection attempts (every MX address x every probed port). */
  smtpAttempts: number;
  /** Of those, the ones that reach a listener (what the fake SMTP can see). */
  smtpAccepted: number;
}

/**
 * What one cycle costs without any sharing between domains and without a DNS cache, counted
 * the way the checks work (see apps/mxwatch/src/checks/domain-check.ts):
 * - MX lookup; per MX host A + AAAA + CNAME; with no MX the domain's own A + AAAA;
 * - the two RFC 6186 SRV lookups (skipped for a null MX: nothing to submit to);
 * - DNSBL: each MX address x each IP zone, the domain x each domain zone, a TXT after a hit,
 *   and each zone's two RFC 5782 test points;
 * - SPF (which the DNSBL probe needs): the domain's TXT, a provider's include, and what the
 *   record's `mx` (MX, then A + AAAA per host) or `a` (A + AAAA) mechanism looks up;
 * - SMTP: each MX address x each probed port.
 */
export function naiveCounts(fleet: Fleet, zones: DnsblZoneSpec[]): NaiveCounts {
  const ipZones = zones.filter((z) => z.kind === 'ip');
  const domainZones = zones.filter((z) => z.kind === 'domain');
  const listed = new Set(fleet.listings.filter((l) => ipZones.some((z) => z.zone === l.zone)).map((l) => `${l.ip}@${l.zone}`));
  let dns = 0;
  let smtpAttempts = 0;
  let smtpAccepted = 0;
  for (const d of fleet.domains) {
    dns += 1;
    let ips: string[] = [];
    if (d.kind === 'null-mx') {
      ips = [];
    } else {
      if (d.mx.length > 0) {
        dns += 3 * d.mx.length;
        ips = d.mx.map((h) => h.ip);
      } else {
        dns += 2;
        ips = d.a ? [d.a] : [];
      }
      dns += 2;
    }
    for (const ip of ips) {
      for (const z of ipZones) dns += listed.has(`${ip}@${z.zone}`) ? 2 : 1;
      smtpAttempts += PROBED_PORTS.length;
      smtpAccepted += fleet.addresses.get(ip)?.open.length ?? 0;
    }
    dns += domainZones.length;
    dns += 2 * (domainZones.length + (ips.length > 0 ? ipZones.length : 0));
    const spfTerms = d.spf?.split(' ') ?? [];
    dns += 1 + spfTerms.filter((t) => t.startsWith('include:')).length;
    if (spfTerms.includes('mx')) dns += 1 + 2 * d.mx.length;
    if (spfTerms.includes('a')) dns += 2;
  }
  return { dns, smtpAttempts, smtpAccepted };
}

export function describeFleet(fleet: Fleet): string {
  const count = (k: DomainKind) => fleet.domains.filter((d) => d.kind === k).length;
  const hosts = fleet.providers.map((p) => p.hosts.length).join('/');
  return [
    `${fleet.domains.length} domains: ${count('provider')} on ${fleet.providers.length} providers (${hosts} MX hosts),`,
    `${count('self')} self-hosted MX, ${count('implicit')} without MX falling back to A, ${count('no-mail')} without MX or A,`,
    `${count('null-mx')} null MX; ${fleet.addresses.size} mail server addresses, ${fleet.listings.length} blocklisted`,
  ].join(' ');
}
