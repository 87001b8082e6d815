/**
 * The DNSBL zones mxwatch knows: what each answer means. Sources: RFC 5782 and each list's own
 * documentation (Spamhaus return-code FAQ, URIBL/SURBL usage pages, mailspike.org/usage),
 * gathered in /work/shared/MAIL-NOTES.md.
 *
 * An A answer in 127.0.0.0/8 is a code to decode, not automatically a listing: Spamhaus and
 * URIBL answer "refused" with codes of their own to queries that reach them through public
 * resolvers, and reading those as listings raises false alarms.
 */
import { normaliseDomainName } from '../../transport/dns/dns-names.js';

export type DnsblKind = 'ip' | 'domain';

/** Why a list's answer is not a listing status. */
export type DnsblListErrorReason = 'query_refused_by_list' | 'rate_limited' | 'zone_typo' | 'wrong_query_kind';

export interface DnsblZoneConfig {
  zone: string;
  kind: DnsblKind;
  /** Exact answers that mean "listed", with their meaning. */
  listed: Readonly<Record<string, string>>;
  /** Lists that OR sub-lists into the last octet of 127.0.0.x: bit value → meaning. */
  bitmask?: Readonly<Record<number, string>>;
  /** Custom zones: any answer in 127.0.0.2–127.0.0.254 is a listing. */
  listedRange?: boolean;
  /** Answers that say the list did not answer our question. */
  errors: Readonly<Record<string, { reason: DnsblListErrorReason; meaning: string }>>;
  /** Domain lists: the documented name that must be listed (RFC 5782 §5 test point). */
  testName?: string;
  /** Declared by the operator as `zone:ip` / `zone:domain` rather than taken from the table. */
  custom: boolean;
  /** In the default set when MXWATCH_DNSBL_ZONES is unset. */
  default: boolean;
  /**
   * The list refuses (or silently mis-answers) queries that reach it through the big public
   * resolvers: through one, its answers say nothing about the subject.
   */
  refusesPublicResolvers?: boolean;
}

const SPAMHAUS_ERRORS = {
  '127.255.255.252': { reason: 'zone_typo', meaning: 'typing error in the DNSBL zone name' },
  '127.255.255.254': { reason: 'query_refused_by_list', meaning: 'query via a public or open resolver refused' },
  '127.255.255.255': { reason: 'rate_limited', meaning: 'excessive number of queries' },
} as const;

/** Conventions most lists follow; custom zones inherit them. */
const COMMON_ERRORS = SPAMHAUS_ERRORS;

const ZEN_CODES = {
  '127.0.0.2': 'SBL: Spamhaus Block List (known spam source)',
  '127.0.0.3': 'CSS: Spamhaus snowshoe spam source',
  '127.0.0.4': 'XBL: exploited host (compromised or infected)',
  '127.0.0.5': 'XBL: exploited host (compromised or infected)',
  '127.0.0.6': 'XBL: exploited host (compromised or infected)',
  '127.0.0.7': 'XBL: exploited host (compromised or infected)',
  '127.0.0.9': 'DROP: hijacked or leased to spammers network',
  '127.0.0.10': 'PBL: end-user range that should not send mail directly (ISP maintained)',
  '127.0.0.11': 'PBL: end-user range that should not send mail directly (Spamhaus maintained)',
};

const pick = (keys: string[]) => Object.fromEntries(keys.map((k) => [k, ZEN_CODES[k as keyof typeof ZEN_CODES]]));

type TableEntry = Omit<DnsblZoneConfig, 'zone' | 'custom'>;

const SINGLE_LISTED = { '127.0.0.2': 'listed' };

export const DNSBL_ZONES: Readonly<Record<string, TableEntry>> = {
  'zen.spamhaus.org': { kind: 'ip', listed: ZEN_CODES, errors: SPAMHAUS_ERRORS, default: true, refusesPublicResolvers: true },
  'sbl.spamhaus.org': { kind: 'ip', listed: pick(['127.0.0.2', '127.0.0.3', '127.0.0.9']), errors: SPAMHAUS_ERRORS, default: false, refusesPublicResolvers: true },
  'xbl.spamhaus.org': { kind: 'ip', listed: pick(['127.0.0.4', '127.0.0.5', '127.0.0.6', '127.0.0.7']), errors: SPAMHAUS_ERRORS, default: false, refusesPublicResolvers: true },
  'pbl.spamhaus.org': { kind: 'ip', listed: pick(['127.0.0.10', '127.0.0.11']), errors: SPAMHAUS_ERRORS, default: false, refusesPublicResolvers: true },
  'dbl.spamhaus.org': {
    kind: 'domain',
    listed: {
      '127.0.1.2': 'spam domain',
      '127.0.1.4': 'phishing domain',
      '127.0.1.5': 'malware domain',
      '127.0.1.6': 'botnet command and control domain',
      '127.0.1.102': 'abused legitimate domain (spam)',
      '127.0.1.103': 'abused legitimate spammed redirector domain',
      '127.0.1.104': 'abused legitimate domain (phishing)',
      '127.0.1.105': 'abused legitimate domain (malware)',
      '127.0.1.106': 'abused legitimate domain (botnet command and control)',
    },
    errors: { ...SPAMHAUS_ERRORS, '127.0.1.255': { reason: 'wrong_query_kind', meaning: 'IP queries are not allowed on a domain list' } },
    testName: 'dbltest.com',
    default: true,
    refusesPublicResolvers: true,
  },
  // Barracuda answers only resolvers registered with it (free registration of the resolver's address).
  'b.barracudacentral.org': { kind: 'ip', listed: { '127.0.0.2': 'listed on the Barracuda Reputation Block List' }, errors: {}, default: true, refusesPublicResolvers: true },
  'bl.spamcop.net': { kind: 'ip', listed: { '127.0.0.2': 'listed on SpamCop (reported spam source)' }, errors: {}, default: true },
  'psbl.surriel.com': { kind: 'ip', listed: { '127.0.0.2': 'listed on the Passive Spam Block List (spam trap hits)' }, errors: {}, default: true },
  'bl.mailspike.net': {
    kind: 'ip',
    listed: {
      '127.0.0.2': 'taking part in a distributed spam wave (Mailspike Z)',
      '127.0.0.10': 'worst possible reputation (Mailspike L5)',
      '127.0.0.11': 'very bad reputation (Mailspike L4)',
      '127.0.0.12': 'bad reputation (Mailspike L3)',
    },
    errors: {},
    default: true,
  },
  'dnsbl.dronebl.org': {
    kind: 'ip',
    listed: {
      '127.0.0.2': 'listed on DroneBL (test entry)',
      '127.0.0.3': 'IRC drone',
      '127.0.0.5': 'bottler',
      '127.0.0.6': 'unknown spambot or drone',
      '127.0.0.7': 'DDoS drone',
      '127.0.0.8': 'open SOCKS proxy',
      '127.0.0.9': 'open HTTP proxy',
      '127.0.0.10': 'proxy chain',
      '127.0.0.11': 'web page proxy',
      '127.0.0.12': 'open DNS resolver',
      '127.0.0.13': 'brute force attacker',
      '127.0.0.14': 'open Wingate proxy',
      '127.0.0.15': 'compromised router or gateway',
      '127.0.0.16': 'autorooting worm',
      '127.0.0.17': 'automatically determined botnet IP',
      '127.0.0.18': 'DNS/MX type hostname detected on IRC',
      '127.0.0.19': 'abused VPN service',
      '127.0.0.255': 'uncategorised threat',
    },
    errors: {},
    default: false,
  },
  'ix.dnsbl.manitu.net': { kind: 'ip', listed: { '127.0.0.2': 'listed on NiX Spam (manitu)' }, errors: {}, default: false },
  'dnsbl-1.uceprotect.net': { kind: 'ip', listed: { '127.0.0.2': 'listed on UCEPROTECT level 1 (this address)' }, errors: {}, default: false },
  'dnsbl-2.uceprotect.net': { kind: 'ip', listed: { '127.0.0.2': 'listed on UCEPROTECT level 2 (the surrounding network)' }, errors: {}, default: false },
  'dnsbl-3.uceprotect.net': { kind: 'ip', listed: { '127.0.0.2': 'listed on UCEPROTECT level 3 (the whole ASN)' }, errors: {}, default: false },
  'multi.uribl.com': {
    kind: 'domain',
    listed: {},
    bitmask: { 2: 'URIBL black (spam domain)', 4: 'URIBL grey (bulk mail domain)', 8: 'URIBL red (newly seen spam domain)' },
    errors: { '127.0.0.1': { reason: 'query_refused_by_list', meaning: 'query refused (public resolver or query volume too high)' } },
    testName: 'test.uribl.com',
    default: false,
    refusesPublicResolvers: true,
  },
  'multi.surbl.org': {
    kind: 'domain',
    listed: {},
    bitmask: {
      4: 'SURBL DM (disposable email domain)',
      8: 'SURBL PH (phishing site)',
      16: 'SURBL MW (malware site)',
      32: 'SURBL CT (click-tracking domain)',
      64: 'SURBL ABUSE (spam and abuse site)',
      128: 'SURBL CR (cracked site)',
    },
    errors: {},
    testName: 'test.surbl.org',
    default: false,
    refusesPublicResolvers: true,
  },
};

/** The RFC 5782 name that must not be listed on a domain list. */
export const DOMAIN_LIST_NEGATIVE_TEST = 'invalid';

function builtIn(zone: string): DnsblZoneConfig | null {
  const entry = DNSBL_ZONES[zone];
  return entry ? { zone, custom: false, ...entry } : null;
}

function custom(zone: string, kind: DnsblKind): DnsblZoneConfig {
  return { zone, kind, listed: {}, listedRange: true, errors: COMMON_ERRORS, testName: kind === 'domain' ? 'test' : undefined, custom: true, default: false };
}

/**
 * Validates MXWATCH_DNSBL_ZONES (an empty list means the default set). A zone must be in the
 * built-in table, or be declared with its kind (`zone:ip`, `zone:domain`), in which case an
 * answer in 127.0.0.2–127.0.0.254 is a listing and the usual 127.255.255.x codes are errors.
 * Throws one Error naming every bad entry.
 */
export function resolveZoneConfig(names: readonly string[]): DnsblZoneConfig[] {
  // The DNSBL probe asks for every check with the same settings: answered once per list, not once per check.
  let known = resolved.get(names);
  if (!known) {
    try {
      known = { zones: buildZoneConfig(names) };
    } catch (e) {
      known = { error: e as Error };
    }
    resolved.set(names, known);
  }
  if ('error' in known) throw known.error;
  return [...known.zones];
}

const resolved = new WeakMap<readonly string[], { zones: readonly DnsblZoneConfig[] } | { error: Error }>();

function buildZoneConfig(names: readonly string[]): DnsblZoneConfig[] {
  const wanted = names.map((n) => n.trim()).filter(Boolean);
  if (wanted.length === 0) return Object.keys(DNSBL_ZONES).map((z) => builtIn(z)!).filter((z) => z.default);

  const problems: string[] = [];
  const out = new Map<string, DnsblZoneConfig>();
  for (const raw of wanted) {
    const m = raw.match(/^(.*?):(ip|domain)$/i);
    const [zoneText, kind] = m ? [m[1], m[2].toLowerCase() as DnsblKind] : [raw, null];
    const norm = normaliseDomainName(zoneText);
    if (!norm.ok) {
      problems.push(`"${raw}" is not a valid zone name: ${norm.error}`);
      continue;
    }
    const zone = norm.name;
    if (zone === 'sorbs.net' || zone.endsWith('.sorbs.net')) {
      problems.push(`"${raw}": SORBS was decommissioned in 2024 and its zones must not be queried; remove it`);
      continue;
    }
    const known = builtIn(zone);
    if (known) {
      if (kind && kind !== known.kind) {
        problems.push(`"${raw}": ${zone} is a${known.kind === 'ip' ? 'n ip' : ' domain'} list, not a${kind === 'ip' ? 'n ip' : ' domain'} list`);
        continue;
      }
      out.set(zone, known);
    } else if (kind) {
      out.set(zone, custom(zone, kind));
    } else {
      problems.push(
        `"${raw}" is not a DNSBL zone mxwatch knows (${Object.keys(DNSBL_ZONES).join(', ')}); ` +
          `to use another list, give its kind: "${zone}:ip" for an IP list or "${zone}:domain" for a domain list`,
      );
    }
  }
  if (problems.length) throw new Error(`invalid DNSBL zones: ${problems.join('; ')}`);
  return [...out.values()];
}

/**
 * The configuration of one zone as a probe needs it: a config object as is, a table zone by
 * name, `zone:kind`, or a bare unknown name treated as a custom list of `fallbackKind`.
 */
export function zoneConfigFor(zone: string | DnsblZoneConfig, fallbackKind?: DnsblKind): DnsblZoneConfig {
  if (typeof zone !== 'string') return zone;
  const m = zone.match(/^(.*?):(ip|domain)$/i);
  const name = (m ? m[1] : zone).trim().toLowerCase().replace(/\.$/, '');
  const known = builtIn(name);
  if (known) return known;
  const kind = (m?.[2].toLowerCase() as DnsblKind | undefined) ?? fallbackKind;
  if (!kind) throw new Error(`bug: unknown DNSBL zone ${zone} without a kind`);
  return custom(name, kind);
}

/**
 * Spamhaus Data Query Service: with a (free) DQS key, `<list>.spamhaus.org` is asked at
 * `<key>.<list>.dq.spamhaus.net`, with the same answer codes, through any resolver. Null for
 * every other zone, or without a key. The result names the key: never log or store it.
 */
export function dqsZoneFor(zone: string, key: string | undefined): string | null {
  if (!key) return null;
  const m = /^([a-z0-9-]+)\.spamhaus\.org$/.exec(zone);
  return m ? `${key.toLowerCase()}.${m[1]}.dq.spamhaus.net` : null;
}

/** Whether this list stays dark behind a public resolver (Spamhaus zones asked through DQS do not). */
export function darkBehindPublicResolver(zone: DnsblZoneConfig, dqsKey: string | undefined): boolean {
  return zone.refusesPublicResolvers === true && dqsZoneFor(zone.zone, dqsKey) === null;
}
