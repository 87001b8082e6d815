/**
 * The one place where a DNS message becomes a DnsAnswer, shared by every transport (DoH, UDP,
 * TCP): query building, matching an answer to its question, walking the CNAME chain inside a
 * message, NXDOMAIN vs NODATA, positive and negative TTLs (RFC 2308), DNSSEC flags and RFC 8914
 * extended errors. Transports only move bytes.
 */
import { domainToASCII } from 'node:url';
import packet from 'dns-packet';
import type {
  DnskeyRecord,
  DnsRecordOf,
  DnsRecordType,
  DnssecFlags,
  DsRecord,
  ExtendedDnsError,
  MxRecord,
  SoaRecord,
  SrvRecord,
  TlsaRecord,
} from '../transport.types.js';

/** What one lookup asks: the transports build the same question from it. */
export interface DnsQuestion {
  name: string;
  type: DnsRecordType;
  /** DO bit (EDNS0). */
  dnssec: boolean;
  /** CD bit. */
  checkingDisabled: boolean;
}

/** RFC 8914 extended DNS error option code. */
export const EDE_OPTION_CODE = 15;
/** The EDNS0 buffer size of the 2020 DNS flag day: avoids IP fragmentation on every path. */
export const EDNS_UDP_SIZE = 1232;
/** Largest DNS message any transport accepts (the TCP length prefix is 16 bits; RFC 8484 uses the same bound). */
export const MAX_DNS_MESSAGE = 65_535;

const EXTENDED_RCODES: Record<number, string> = { 16: 'BADVERS', 23: 'BADCOOKIE' };

/**
 * Lower-case, without the trailing dot, internationalised labels as punycode (what goes on the
 * wire, and what tangerine sends too): the form used as cache key, in questions and in answers.
 */
export function canonicalName(name: string): string {
  let lower = name.trim().toLowerCase();
  if (/[^\x00-\x7f]/.test(lower)) lower = domainToASCII(lower) || lower;
  return lower.length > 1 && lower.endsWith('.') ? lower.slice(0, -1) : lower;
}

/** The root name (null MX target) stays `.`; everything else loses its trailing dot. */
export function canonicalTarget(name: string): string {
  if (name === '' || name === '.') return '.';
  return canonicalName(name);
}

/**
 * The wire query for a question. `id` is random for UDP/TCP (RFC 5452); DoH uses 0 (RFC 8484 §4.1,
 * for HTTP caches). Every query carries EDNS0: without it UDP answers above 512 bytes truncate.
 */
export function encodeQuery(question: DnsQuestion, id: number, udpPayloadSize = EDNS_UDP_SIZE): Buffer {
  return packet.encode({
    type: 'query',
    id,
    flags: packet.RECURSION_DESIRED | (question.checkingDisabled ? packet.CHECKING_DISABLED : 0),
    questions: [{ type: question.type, name: question.name, class: 'IN' }],
    additionals: [ednsRecord(question, udpPayloadSize)],
  });
}

function ednsRecord(question: DnsQuestion, udpPayloadSize: number): packet.Answer {
  return { type: 'OPT', name: '.', udpPayloadSize, extendedRcode: 0, ednsVersion: 0, flags: question.dnssec ? packet.DNSSEC_OK : 0, flag_do: question.dnssec, options: [] } as packet.OptAnswer;
}

/**
 * Rewrites a query built by someone else (tangerine) so that it carries our DO and CD bits. The
 * rest of the message (id, padding, ECS) is kept.
 */
export function applyQuestionFlags(wire: Buffer, question: DnsQuestion): Buffer {
  const decoded = packet.decode(wire);
  const flags = (decoded.flags ?? 0) & ~packet.CHECKING_DISABLED & ~packet.AUTHENTIC_DATA;
  const additionals = (decoded.additionals ?? []).filter((a) => a.type !== 'OPT');
  const opt = (decoded.additionals ?? []).find((a): a is packet.OptAnswer => a.type === 'OPT');
  const edns = opt
    ? ({ ...opt, flags: question.dnssec ? opt.flags | packet.DNSSEC_OK : opt.flags & ~packet.DNSSEC_OK } as packet.OptAnswer)
    : (ednsRecord(question, 4096) as packet.OptAnswer);
  return packet.encode({
    type: 'query',
    id: decoded.id,
    flags: flags | (question.checkingDisabled ? packet.CHECKING_DISABLED : 0),
    questions: decoded.questions,
    answers: decoded.answers,
    authorities: decoded.authorities,
    // dns-packet decodes option data it knows (padding) into fields but keeps `data`, which it re-encodes as is.
    additionals: [...additionals, edns],
  });
}

/** Why an incoming message is not the answer to our query, or null when it is (RFC 5452 §9.1). */
export function mismatchOf(message: packet.DecodedPacket, id: number | null, question: DnsQuestion): string | null {
  if (message.type !== 'response') return 'not a response';
  if (id !== null && message.id !== id) return `id ${message.id} instead of ${id}`;
  const q = message.questions?.[0];
  if (!q || (message.questions?.length ?? 0) !== 1) return 'no question section';
  if (canonicalName(q.name) !== canonicalName(question.name)) return `question for ${q.name}`;
  if (q.type !== question.type) return `question of type ${q.type}`;
  if ((q.class ?? 'IN') !== 'IN') return `question of class ${q.class}`;
  return null;
}

// ---------------------------------------------------------------------------------------------
// Interpretation of one message
// ---------------------------------------------------------------------------------------------

/** The DNSSEC facts of one message (AD, rcode with its EDNS extension, extended errors). */
export interface MessageFlags {
  authenticated: boolean;
  rcode: string;
  ede: ExtendedDnsError[];
}

export type Interpretation<T extends DnsRecordType> =
  /** Records of the asked type at the end of the chain. `ttl`: the smallest TTL of the chain. */
  | { kind: 'records'; records: DnsRecordOf<T>[]; ttl: number; chain: string[]; flags: MessageFlags }
  /** A fact about the name: `nxdomain` (of the last name of the chain) or `nodata`. `ttl`: negative TTL. */
  | { kind: 'negative'; error: 'nxdomain' | 'nodata'; ttl: number; chain: string[]; flags: MessageFlags; soa: boolean }
  /** The message ends on a CNAME whose target it does not resolve: ask for `target`. */
  | { kind: 'follow'; target: string; ttl: number; chain: string[]; flags: MessageFlags }
  /** The CNAME chain inside the message comes back to a name it already passed. */
  | { kind: 'loop'; chain: string[]; flags: MessageFlags }
  /** The resolver could not or would not answer (retry elsewhere). */
  | { kind: 'failure'; error: 'servfail' | 'refused' | 'badresp'; rcode: string; flags: MessageFlags };

export interface InterpretOptions {
  /** Negative TTL (s) when a negative answer carries no SOA. */
  defaultNegativeTtl: number;
  /** Upper bound of any TTL (s). */
  maxTtl: number;
}

/**
 * Reads one answer message for `qname`/`qtype`. `visited` are names already passed by earlier
 * messages of the same lookup (CNAME loops can span messages when the resolver stops at each alias).
 */
export function interpretMessage<T extends DnsRecordType>(
  message: packet.DecodedPacket,
  qname: string,
  qtype: T,
  options: InterpretOptions,
  visited: ReadonlySet<string> = new Set(),
): Interpretation<T> {
  const flags = messageFlags(message);
  if (flags.rcode !== 'NOERROR' && flags.rcode !== 'NXDOMAIN') {
    const error = flags.rcode === 'SERVFAIL' ? 'servfail' : flags.rcode === 'REFUSED' ? 'refused' : 'badresp';
    return { kind: 'failure', error, rcode: flags.rcode, flags };
  }
  const answers = (message.answers ?? []).filter((a) => a.type !== 'OPT' && ((a as { class?: string }).class ?? 'IN') === 'IN');
  const ttls: number[] = [];
  const chain: string[] = [];
  const seen = new Set(visited);
  let name = canonicalName(qname);
  seen.add(name);
  for (;;) {
    const rrs = answers.filter((a) => a.type === qtype && canonicalName(a.name) === name);
    if (rrs.length > 0) {
      for (const rr of rrs) ttls.push(ttlOf(rr));
      return { kind: 'records', records: rrs.map((rr) => mapRecord(qtype, rr)), ttl: clampTtl(Math.min(...ttls), options.maxTtl), chain, flags };
    }
    if (qtype === 'CNAME') break;
    const cname = answers.find((a) => a.type === 'CNAME' && canonicalName(a.name) === name) as packet.StringAnswer | undefined;
    if (!cname) break;
    const target = canonicalName(cname.data);
    ttls.push(ttlOf(cname));
    chain.push(target);
    if (seen.has(target)) return { kind: 'loop', chain, flags };
    seen.add(target);
    name = target;
  }

  const soa = (message.authorities ?? []).find((a): a is packet.SoaAnswer => a.type === 'SOA');
  if (flags.rcode === 'NOERROR' && chain.length > 0 && !soa) {
    // Ends on an alias and says nothing about its target (no SOA means no NODATA proof): unbound
    // answers local-data CNAMEs this way, so do what a stub resolver does and ask for the target.
    return { kind: 'follow', target: name, ttl: clampTtl(Math.min(...ttls), options.maxTtl), chain, flags };
  }
  const minimum = soa?.data.minimum ?? options.defaultNegativeTtl;
  let negative = soa ? Math.min(soa.ttl ?? minimum, minimum) : options.defaultNegativeTtl;
  if (ttls.length) negative = Math.min(negative, ...ttls);
  return {
    kind: 'negative',
    error: flags.rcode === 'NXDOMAIN' ? 'nxdomain' : 'nodata',
    ttl: clampTtl(negative, options.maxTtl),
    chain,
    flags,
    soa: Boolean(soa),
  };
}

export function messageFlags(message: packet.DecodedPacket): MessageFlags {
  const opt = (message.additionals ?? []).find((a): a is packet.OptAnswer => a.type === 'OPT');
  let rcode = (message as { rcode?: string }).rcode ?? 'NOERROR';
  if (opt && opt.extendedRcode) {
    const low = ((message.flags ?? 0) & 0xf) | 0;
    const full = (opt.extendedRcode << 4) | low;
    rcode = EXTENDED_RCODES[full] ?? `RCODE${full}`;
  }
  return { authenticated: message.flag_ad, rcode, ede: extendedErrorsOf(opt) };
}

function extendedErrorsOf(opt: packet.OptAnswer | undefined): ExtendedDnsError[] {
  const out: ExtendedDnsError[] = [];
  for (const option of opt?.options ?? []) {
    const o = option as { code: number | string; data?: Buffer };
    if (Number(o.code) !== EDE_OPTION_CODE || !o.data || o.data.length < 2) continue;
    // RFC 8914 §2: EXTRA-TEXT is UTF-8 and "MAY be zero-length"; some servers NUL-terminate it.
    out.push({ code: o.data.readUInt16BE(0), text: o.data.subarray(2).toString('utf8').replace(/\0+$/, '') });
  }
  return out;
}

/** Merges the flags of the messages of one lookup: secure only if every message was. */
export function combineFlags(parts: MessageFlags[], checkingDisabled: boolean): DnssecFlags {
  const ede: ExtendedDnsError[] = [];
  for (const p of parts) for (const e of p.ede) if (!ede.some((x) => x.code === e.code && x.text === e.text)) ede.push(e);
  return {
    authenticated: parts.length > 0 && parts.every((p) => p.authenticated),
    checkingDisabled,
    rcode: parts.length ? parts[parts.length - 1].rcode : 'NONE',
    ede,
  };
}

function ttlOf(rr: packet.Answer): number {
  const ttl = (rr as { ttl?: number }).ttl;
  return Number.isFinite(ttl) ? (ttl as number) : 0;
}

function clampTtl(ttl: number, max: number): number {
  return Math.max(0, Math.min(ttl, max));
}

function hex(data: Buffer | Uint8Array): string {
  return Buffer.from(data).toString('hex');
}

export function mapRecord<T extends DnsRecordType>(type: T, rr: packet.Answer): DnsRecordOf<T> {
  const data = (rr as { data: unknown }).data;
  switch (type) {
    case 'A':
    case 'AAAA':
      return String(data) as DnsRecordOf<T>;
    case 'CNAME':
    case 'PTR':
    case 'NS':
      return canonicalTarget(String(data)) as DnsRecordOf<T>;
    case 'MX': {
      const mx = data as packet.MxData;
      return { exchange: canonicalTarget(mx.exchange), priority: mx.preference ?? 0 } satisfies MxRecord as DnsRecordOf<T>;
    }
    case 'SRV': {
      const srv = data as packet.SrvData;
      return { name: canonicalTarget(srv.target), port: srv.port, priority: srv.priority ?? 0, weight: srv.weight ?? 0 } satisfies SrvRecord as DnsRecordOf<T>;
    }
    case 'TXT': {
      // A TXT record is a list of ≤255-byte character-strings; SPF/DMARC/DNSBL text means their concatenation.
      const chunks = Array.isArray(data) ? data : [data];
      return chunks.map((c) => (Buffer.isBuffer(c) ? c.toString('utf8') : String(c))).join('') as DnsRecordOf<T>;
    }
    case 'SOA': {
      const soa = data as packet.SoaData;
      return {
        mname: canonicalTarget(soa.mname),
        rname: canonicalTarget(soa.rname),
        serial: soa.serial ?? 0,
        refresh: soa.refresh ?? 0,
        retry: soa.retry ?? 0,
        expire: soa.expire ?? 0,
        minimum: soa.minimum ?? 0,
      } satisfies SoaRecord as DnsRecordOf<T>;
    }
    case 'TLSA': {
      const tlsa = data as packet.TlsaData;
      return { usage: tlsa.usage, selector: tlsa.selector, matchingType: tlsa.matchingType, data: hex(tlsa.certificate) } satisfies TlsaRecord as DnsRecordOf<T>;
    }
    case 'DS': {
      const ds = data as packet.DsData;
      return { keyTag: ds.keyTag, algorithm: ds.algorithm, digestType: ds.digestType, digest: hex(ds.digest) } satisfies DsRecord as DnsRecordOf<T>;
    }
    case 'DNSKEY': {
      // Base64, the presentation format of RFC 4034 §2.2.
      const key = data as packet.DnskeyData;
      return { flags: key.flags, algorithm: key.algorithm, key: Buffer.from(key.key).toString('base64') } satisfies DnskeyRecord as DnsRecordOf<T>;
    }
    default:
      return String(data) as DnsRecordOf<T>;
  }
}
