/**
 * Populates a FakeDnsServer with DNSBL zones that behave like the real lists: RFC 5782 test
 * points, listings with return codes and TXT reasons, and the misbehaviours mxwatch must
 * survive (lists refusing public resolvers, defunct lists, wildcard lists, lists returning
 * non-loopback addresses).
 */
import { isIPv4, isIPv6 } from 'node:net';
import type { FakeDnsServer } from './fake-dns-server.js';

function reverse(ip: string): string {
  if (isIPv4(ip)) return ip.split('.').reverse().join('.');
  if (!isIPv6(ip)) throw new Error(`not an IP address: ${ip}`);
  // Expand `::` so that every group has four nibbles.
  const [head, tail = ''] = ip.split('::');
  const h = head ? head.split(':') : [];
  const t = tail ? tail.split(':') : [];
  const groups = ip.includes('::') ? [...h, ...Array(8 - h.length - t.length).fill('0'), ...t] : h;
  return groups.map((g) => g.padStart(4, '0')).join('').split('').reverse().join('.');
}

/** `<key>.zen.dq.spamhaus.net` -> `zen.spamhaus.org`. */
function spamhausZoneOfDqs(zone: string): string | null {
  const m = /^[^.]+\.([a-z0-9-]+)\.dq\.spamhaus\.net$/.exec(zone);
  return m ? `${m[1]}.spamhaus.org` : null;
}

/** Lists that document their own positive test name instead of RFC 5782's `test`. */
const DOCUMENTED_TEST_NAMES: Record<string, string> = {
  'dbl.spamhaus.org': 'dbltest.com',
  'multi.uribl.com': 'test.uribl.com',
  'multi.surbl.org': 'test.surbl.org',
};

export interface DnsblListing {
  /** A records to answer, e.g. ['127.0.0.2'] or ['127.0.0.4', '127.0.0.10']. */
  codes: string[];
  /** TXT at the same name (the list's reason and delisting link). */
  txt?: string;
}

export class FakeDnsbl {
  constructor(
    readonly server: FakeDnsServer,
    readonly zone: string,
    readonly kind: 'ip' | 'domain',
    private readonly ttl = 300,
    readonly negativeTtl = 60,
  ) {}

  /**
   * A healthy list: SOA for negative answers and the RFC 5782 test points. For domain lists the
   * positive test name is `testName`, by default the list's documented one (Spamhaus DBL:
   * `dbltest.com`) or RFC 5782's `test`.
   */
  static healthy(
    server: FakeDnsServer,
    zone: string,
    kind: 'ip' | 'domain',
    options: { testName?: string; testCode?: string; negativeTtl?: number; /** TTL of listings; 0 keeps resolvers from caching them */ ttl?: number } = {},
  ): FakeDnsbl {
    const list = new FakeDnsbl(server, zone, kind, options.ttl ?? 300, options.negativeTtl ?? 60);
    server.setSoa(zone, list.negativeTtl, list.negativeTtl);
    // A Spamhaus DQS zone (`<key>.dbl.dq.spamhaus.net`) behaves like the public zone it mirrors.
    const like = spamhausZoneOfDqs(zone) ?? zone;
    const code = options.testCode ?? (like === 'dbl.spamhaus.org' ? '127.0.1.2' : '127.0.0.2');
    if (kind === 'ip') list.listIp('127.0.0.2', { codes: [code], txt: 'RFC 5782 test point' });
    else list.listDomain(options.testName ?? DOCUMENTED_TEST_NAMES[like] ?? 'test', { codes: [code], txt: 'RFC 5782 test point' });
    return list;
  }

  /** A healthy Spamhaus Data Query Service zone for `key`: `<key>.zen.dq.spamhaus.net` for `zen.spamhaus.org`. */
  static spamhausDqs(server: FakeDnsServer, key: string, publicZone: string, options: { negativeTtl?: number; ttl?: number } = {}): FakeDnsbl {
    const m = /^([a-z0-9-]+)\.spamhaus\.org$/.exec(publicZone);
    if (!m) throw new Error(`${publicZone} is not a Spamhaus zone`);
    return FakeDnsbl.healthy(server, `${key}.${m[1]}.dq.spamhaus.net`, m[1] === 'dbl' ? 'domain' : 'ip', options);
  }

  /** The query name of an IP or domain in this zone. */
  nameOf(subject: string): string {
    return this.kind === 'ip' ? `${reverse(subject)}.${this.zone}` : `${subject.toLowerCase()}.${this.zone}`;
  }

  listIp(ip: string, listing: DnsblListing): this {
    return this.list(this.nameOf(ip), listing);
  }

  listDomain(domain: string, listing: DnsblListing): this {
    return this.list(`${domain.toLowerCase()}.${this.zone}`, listing);
  }

  unlist(subject: string): this {
    const name = this.nameOf(subject);
    this.server.setRecords(name, 'A', []).setRecords(name, 'TXT', []);
    return this;
  }

  /** Spamhaus-style refusal of public resolvers: every query answers 127.255.255.254 (URIBL: 127.0.0.1). */
  refuseEverything(code = '127.255.255.254'): this {
    // Wildcards only cover names that do not exist, so the explicit entries (test points
    // included) go for "answers everything" to hold.
    this.server.removeTree(this.zone);
    this.server.setSoa(this.zone, this.negativeTtl, this.negativeTtl);
    this.server.setRecords(`*.${this.zone}`, 'A', [code], this.ttl);
    this.server.setRecords(`*.${this.zone}`, 'TXT', ['Query refused: see the list\'s usage policy'], this.ttl);
    return this;
  }

  /** A defunct or hijacked list that lists everything: fails the negative test point. */
  listEverything(code = '127.0.0.2'): this {
    this.server.setRecords(`*.${this.zone}`, 'A', [code], this.ttl);
    return this;
  }

  /** A dead list: nothing is listed, not even the positive test point. */
  listNothing(): this {
    this.server.removeTree(this.zone);
    this.server.setSoa(this.zone, this.negativeTtl, this.negativeTtl);
    return this;
  }

  /** The zone answers with a DNS rcode for every name (resolver REFUSED / SERVFAIL). */
  failWith(rcode: 'REFUSED' | 'SERVFAIL'): this {
    this.server.setFault(this.zone, { rcode });
    return this;
  }

  private list(name: string, listing: DnsblListing): this {
    this.server.setRecords(name, 'A', listing.codes, this.ttl);
    this.server.setRecords(name, 'TXT', listing.txt ? [listing.txt] : [], this.ttl);
    return this;
  }
}
