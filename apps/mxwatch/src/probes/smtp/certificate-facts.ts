import { X509Certificate, createHash } from 'node:crypto';
import type { DetailedPeerCertificate, PeerCertificate } from 'node:tls';

/**
 * The facts the smtp/starttls results keep about presented certificates, read from what Node's
 * `getPeerCertificate(true)` has already parsed. Parsing a certificate again with `X509Certificate`
 * (OpenSSL 3 decodes its public key each time, ~0.1 ms) and exporting the key (~0.1 ms more) for
 * every certificate of every session was a quarter of an SMTP probe's CPU. The slow way is kept
 * for what the parsed form cannot say exactly as `X509Certificate` would (see `nameText`).
 */

export interface CertificateFacts {
  subject: string;
  sans: string[];
  issuer: string;
  notBefore: string;
  notAfter: string;
  fingerprint256: string;
  daysLeft: number;
}

/** One certificate of a presented chain (leaf first); hashes in hex (what DANE matches TLSA records against). */
export interface ChainCertificate {
  subject: string;
  issuer: string;
  notBefore: string;
  notAfter: string;
  certSha256: string;
  certSha512: string;
  spkiSha256: string;
  spkiSha512: string;
}

const DAY_MS = 86_400_000;

/**
 * Facts of the certificates seen lately, by SHA-256 fingerprint, frozen and shared: a provider's
 * MX hosts present the same few certificates on every address, and each session otherwise kept
 * its own copy of the same strings (6 MB of a 127 MB heap at 10,000 domains) and hashed every
 * chain certificate four times again. Bounded; the least recently used go first.
 */
class FactsMemo<V> {
  private readonly entries = new Map<string, V>();
  constructor(private readonly max: number) {}

  get(fingerprint: string | undefined, make: () => V): V {
    if (!fingerprint) return make();
    const known = this.entries.get(fingerprint);
    if (known !== undefined) {
      this.entries.delete(fingerprint);
      this.entries.set(fingerprint, known);
      return known;
    }
    const made = deepFreeze(make());
    this.entries.set(fingerprint, made);
    if (this.entries.size > this.max) this.entries.delete(this.entries.keys().next().value!);
    return made;
  }
}

function deepFreeze<V>(v: V): V {
  if (v !== null && typeof v === 'object') {
    for (const x of Object.values(v)) deepFreeze(x);
    Object.freeze(v);
  }
  return v;
}

const leafMemo = new FactsMemo<Omit<CertificateFacts, 'daysLeft'> | null>(1_000);
const chainMemo = new FactsMemo<ChainCertificate>(1_000);

/**
 * A name as `X509Certificate#subject` writes it (one `KEY=value` per RDN, newline-separated, here
 * joined with `, `), from the object form. Null when the object cannot tell: a repeated attribute
 * (an array: the order between RDNs is lost) or a value OpenSSL would escape (RFC 2253 specials,
 * control characters, a leading `#` or space, a trailing space).
 */
export function nameText(name: PeerCertificate['subject'] | undefined): string | null {
  if (!name) return null;
  const parts: string[] = [];
  for (const [key, value] of Object.entries(name as unknown as Record<string, string | string[]>)) {
    if (typeof value !== 'string' || /[,+"\\<>;=\u0000-\u001f\u007f]|^[ #]| $/.test(value)) return null;
    parts.push(`${key}=${value}`);
  }
  return parts.join(', ');
}

interface DerElement {
  tag: number;
  /** Offset of the tag byte. */
  at: number;
  /** Offset of the first content byte. */
  start: number;
  /** Offset after the last content byte. */
  end: number;
}

function derElement(der: Uint8Array, at: number, limit: number): DerElement | null {
  if (at + 2 > limit) return null;
  const tag = der[at]!;
  let length = der[at + 1]!;
  let start = at + 2;
  if (length & 0x80) {
    const bytes = length & 0x7f;
    if (bytes === 0 || bytes > 4 || start + bytes > limit) return null;
    length = 0;
    for (let i = 0; i < bytes; i++) length = length * 256 + der[start + i]!;
    start += bytes;
  }
  const end = start + length;
  return end > limit ? null : { tag, at, start, end };
}

/**
 * The SubjectPublicKeyInfo of a DER certificate (RFC 5280 section 4.1), tag and length included:
 * the bytes DANE selector 1 hashes, as the certificate carries them. Null when the DER does not
 * have the shape of a certificate.
 */
export function spkiOf(der: Uint8Array): Uint8Array | null {
  const cert = derElement(der, 0, der.length);
  if (!cert || cert.tag !== 0x30) return null;
  const tbs = derElement(der, cert.start, cert.end);
  if (!tbs || tbs.tag !== 0x30) return null;
  let el = derElement(der, tbs.start, tbs.end);
  // [0] EXPLICIT version, absent for v1 certificates.
  if (el?.tag === 0xa0) el = derElement(der, el.end, tbs.end);
  // serialNumber INTEGER, signature AlgorithmIdentifier, issuer Name, validity, subject Name.
  for (const tag of [0x02, 0x30, 0x30, 0x30, 0x30]) {
    if (!el || el.tag !== tag) return null;
    el = derElement(der, el.end, tbs.end);
  }
  if (!el || el.tag !== 0x30) return null;
  return der.subarray(el.at, el.end);
}

function sansOf(subjectAltName: string | undefined): string[] {
  return (subjectAltName ?? '')
    .split(/,\s*/)
    .filter(Boolean)
    .map((s) => s.replace(/^IP Address:/, 'IP:'));
}

export function certificateFacts(peer: PeerCertificate, now: Date): CertificateFacts | null {
  // The fingerprint names the whole DER, so it names everything read from it.
  const facts = leafMemo.get(peer.fingerprint256, () => leafFacts(peer));
  return facts && { ...facts, daysLeft: Math.floor((Date.parse(facts.notAfter) - now.getTime()) / DAY_MS) };
}

function leafFacts(peer: PeerCertificate): Omit<CertificateFacts, 'daysLeft'> | null {
  try {
    const subject = nameText(peer.subject);
    const issuer = nameText(peer.issuer);
    if (subject !== null && issuer !== null && peer.valid_from && peer.valid_to && peer.fingerprint256) {
      return {
        subject,
        sans: sansOf(peer.subjectaltname),
        issuer,
        notBefore: new Date(peer.valid_from).toISOString(),
        notAfter: new Date(peer.valid_to).toISOString(),
        fingerprint256: peer.fingerprint256,
      };
    }
    const x = new X509Certificate(peer.raw);
    return {
      subject: x.subject.split('\n').join(', '),
      sans: sansOf(x.subjectAltName),
      issuer: x.issuer.split('\n').join(', '),
      notBefore: new Date(x.validFrom).toISOString(),
      notAfter: new Date(x.validTo).toISOString(),
      fingerprint256: x.fingerprint256,
    };
  } catch {
    return null;
  }
}

function chainCertificate(c: DetailedPeerCertificate): ChainCertificate {
  const digests = (bytes: Uint8Array) => [createHash('sha256').update(bytes).digest('hex'), createHash('sha512').update(bytes).digest('hex')] as const;
  const [certSha256, certSha512] = digests(c.raw);
  const subject = nameText(c.subject);
  const issuer = nameText(c.issuer);
  const spki = spkiOf(c.raw);
  if (subject !== null && issuer !== null && spki !== null && c.valid_from && c.valid_to) {
    const [spkiSha256, spkiSha512] = digests(spki);
    return { subject, issuer, notBefore: new Date(c.valid_from).toISOString(), notAfter: new Date(c.valid_to).toISOString(), certSha256, certSha512, spkiSha256, spkiSha512 };
  }
  const x = new X509Certificate(c.raw);
  const [spkiSha256, spkiSha512] = digests(spki ?? x.publicKey.export({ type: 'spki', format: 'der' }));
  return {
    subject: x.subject.split('\n').join(', '),
    issuer: x.issuer.split('\n').join(', '),
    notBefore: new Date(x.validFrom).toISOString(),
    notAfter: new Date(x.validTo).toISOString(),
    certSha256,
    certSha512,
    spkiSha256,
    spkiSha512,
  };
}

/** Every certificate the server presented (and the root Node completed the chain with), leaf first. */
export function chainFacts(peer: DetailedPeerCertificate): ChainCertificate[] {
  const out: ChainCertificate[] = [];
  const seen = new Set<string>();
  for (let c: DetailedPeerCertificate | undefined = peer; c?.raw && out.length < 10; c = c.issuerCertificate) {
    const fp = c.fingerprint256;
    if (seen.has(fp)) break;
    seen.add(fp);
    try {
      out.push(chainMemo.get(fp, () => chainCertificate(c!)));
    } catch {
      break;
    }
    if (c.issuerCertificate === c) break;
  }
  return out;
}
