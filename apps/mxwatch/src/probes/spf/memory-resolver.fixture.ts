/**
 * An in-memory Resolver for the sending-policy probe specs: a zone is a map of names to records.
 * A name that is not in the map but has a descendant in it exists without records (NODATA, like
 * an empty non-terminal); any other name is NXDOMAIN. CNAMEs are followed like a recursive
 * resolver does, and `*.<name>` wildcards answer for names that do not exist. Faults (`servfail`, `timeout`, ...) are set per name, or per `name TYPE`.
 */
import type { DnsAnswer, DnsErrorKind, DnsRecordOf, DnsRecordType, MxRecord, ProbeContext, Resolver } from '../probe.types.js';

export interface MemoryRecords {
  A?: string[];
  AAAA?: string[];
  MX?: MxRecord[];
  TXT?: string[];
  CNAME?: string[];
  PTR?: string[];
}

export type MemoryZone = Record<string, MemoryRecords>;

export class MemoryResolver implements Resolver {
  /** Every query asked, as `name TYPE`, in order. */
  readonly queries: string[] = [];
  private readonly zone = new Map<string, MemoryRecords>();
  private readonly faults = new Map<string, DnsErrorKind>();

  constructor(zone: MemoryZone = {}, faults: Record<string, DnsErrorKind> = {}) {
    this.set(zone);
    for (const [k, v] of Object.entries(faults)) this.fault(k, v);
  }

  set(zone: MemoryZone): this {
    for (const [name, records] of Object.entries(zone)) this.zone.set(canonical(name), records);
    return this;
  }

  /** `name` fails every type, `name TYPE` only that type. */
  fault(key: string, kind: DnsErrorKind): this {
    const [name, type] = key.split(' ');
    this.faults.set(type ? `${canonical(name!)} ${type}` : canonical(name!), kind);
    return this;
  }

  async resolve<T extends DnsRecordType>(name: string, type: T): Promise<DnsAnswer<T>> {
    let current = canonical(name);
    this.queries.push(`${current} ${type}`);
    for (let hops = 0; hops < 8; hops++) {
      const fault = this.faults.get(`${current} ${type}`) ?? this.faults.get(current);
      if (fault) return { ok: false, type, name, error: fault, cause: `${current} ${type}: ${fault} (test fault)` };
      const records = this.zone.get(current) ?? this.wildcard(current);
      if (!records) {
        const exists = [...this.zone.keys()].some((n) => n.endsWith(`.${current}`));
        return exists
          ? { ok: false, type, name, error: 'nodata', cause: `${current} has no ${type} record` }
          : { ok: false, type, name, error: 'nxdomain', cause: `${current} does not exist (NXDOMAIN)` };
      }
      const alias = records.CNAME?.[0];
      if (alias && type !== 'CNAME') {
        current = canonical(alias);
        continue;
      }
      const list = (records as Record<string, unknown[] | undefined>)[type];
      if (!list?.length) return { ok: false, type, name, error: 'nodata', cause: `${current} has no ${type} record` };
      return { ok: true, type, name, records: list as DnsRecordOf<T>[], ttl: 300 };
    }
    return { ok: false, type, name, error: 'cname_loop', cause: `CNAME loop at ${name}` };
  }

  /** RFC 4592: `*.<ancestor>` answers for a name that does not exist below that ancestor. */
  private wildcard(name: string): MemoryRecords | undefined {
    if ([...this.zone.keys()].some((n) => n.endsWith(`.${name}`))) return undefined;
    const labels = name.split('.');
    for (let i = 1; i < labels.length; i++) {
      const hit = this.zone.get(`*.${labels.slice(i).join('.')}`);
      if (hit) return hit;
    }
    return undefined;
  }
}

function canonical(name: string): string {
  return name.toLowerCase().replace(/\.$/, '');
}

export function testContext(resolver: Resolver, overrides: Partial<ProbeContext> = {}): ProbeContext {
  return {
    deadline: Date.now() + 10_000,
    signal: new AbortController().signal,
    resolver,
    dnsblResolver: resolver,
    dialer: { dial: async () => ({ ok: false, error: 'forbidden', cause: 'unit test' }) },
    addressPolicy: { forbiddenRange: () => null },
    settings: { smtpPorts: [25], certWarnDays: 14, slowBannerMs: 5000, dnsblZones: [], ehloName: 'probe.test', smtpConnectTimeoutMs: 1000, smtpReplyTimeoutMs: 1000, maxMxHosts: 10, maxAddresses: 32 },
    now: () => new Date(),
    ...overrides,
  };
}
