/**
 * A hermetic fake internet for end-to-end suites: one fake DNS (DoH) resolver, DNSBL zones with
 * real return codes, and fake mail servers on 127.x.y.z addresses, plus the environment that
 * points the built service at all of it. Everything stays on loopback (127.0.0.0/8).
 *
 * The service's MXWATCH_PORT_MAP is global, so every fake mail server listens on the SAME three
 * port numbers (standing in for 25, 587 and 465), each on its own loopback address; a closed
 * port is an address with no listener on that port.
 *
 * Every record is published with TTL 0, and the SOAs of the DNSBL zones and of the `tlds`
 * (default `test`) carry a negative TTL of 0, so the service's resolver caches nothing and a zone
 * change is seen by the very next check: put every domain under one of those TLDs.
 *
 * ```ts
 * const net = await createFakeInternet({ dnsblZones: [{ zone: 'zen.spamhaus.org', kind: 'ip' }] });
 * const app = await startApp({ ...net.env, DATABASE_URL: db.url });
 * const d = await net.addMailDomain('ok.test', { mx: [{ host: 'mx.ok.test', behaviour25: 'good' }] });
 * net.dnsbl('zen.spamhaus.org').listIp(d.mx[0]!.ip!, { codes: ['127.0.0.4'] });
 * await net.setBehaviour(d.mx[0]!.ip!, 25, 'no-starttls');   // stop + restart on the same ip:port
 * await net.close();
 * ```
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { FakeDnsbl } from '../rig/dns/dnsbl-zone.js';
import { FakeDnsServer, type FakeMx, type FakeSrv } from '../rig/dns/fake-dns-server.js';
import { type FakeSmtpBehaviour, type FakeSmtpServer, startFakeSmtp } from '../rig/smtp/fake-smtp-server.js';
import { createTestCa, type TestCa } from '../rig/tls/test-ca.js';

/** The ports the service probes; each is mapped to one real port shared by all fake servers. */
export const PROBED_PORTS = [25, 587, 465] as const;

/**
 * MXWATCH_PROBES for suites about the mail servers themselves (MX, SMTP, STARTTLS, DNSBL): they
 * expect exact finding sets for those probes, and a fake domain has no MTA-STS, TLS-RPT or DNSSEC
 * (the policy suites set those up and run every probe).
 */
export const CORE_PROBES = 'mx,smtp,starttls,dnsbl';
export type ProbedPort = (typeof PROBED_PORTS)[number];

/** A fake server behaviour, or `closed`: nothing listens on that port of that address. */
export type PortBehaviour = FakeSmtpBehaviour;

export interface DnsblZoneSpec {
  zone: string;
  kind: 'ip' | 'domain';
}

export interface FakeInternetOptions {
  /**
   * DNSBL zones served (healthy, with RFC 5782 test points) and configured in MXWATCH_DNSBL_ZONES.
   * Default: zen.spamhaus.org (ip) and dbl.spamhaus.org (domain). Never empty: an unset variable
   * would make the service ask the real default lists, which this internet does not serve.
   */
  dnsblZones?: DnsblZoneSpec[];
  /**
   * How the service talks to the fake DNS. `https` adds the DNS CA to the NODE_EXTRA_CA_CERTS file.
   * `udp`/`tcp`: classic DNS, UDP and TCP on one port (`dns.udpAddress`), as a real resolver listens. Default `http`.
   */
  dnsProtocol?: 'http' | 'https' | 'udp' | 'tcp';
  /** Also serve the fake DNS over UDP (`dns.udpAddress`), e.g. for a real resolver forwarding to it. Default false. */
  dnsUdp?: boolean;
  /** Top-level domains that get an SOA (negative TTL 0). Default `['test']`. */
  tlds?: string[];
  /** First address handed out by `allocateIp()`. Default: `127.x.y.1`, x and y random (x ≥ 20). */
  firstIp?: string;
  /** Default banner delay of `slow-banner` servers. Default 1000 ms. */
  slowBannerDelayMs?: number;
}

export interface MxSpec {
  /** The MX target as published: a host name, or an IP literal (published as is, nothing resolves). */
  host: string;
  /** Default 10. */
  pref?: number;
  /**
   * The address the host resolves to. Omitted: a fresh loopback address with fake servers.
   * `null`: the host has no A record (MX_TARGET_UNRESOLVABLE). A non-loopback address is only
   * published in DNS; no server is started for it.
   */
  ip?: string | null;
  /** Publish `host` as a CNAME to this name, which gets the A record instead. */
  cnameTo?: string;
  /** Default `good`. */
  behaviour25?: PortBehaviour;
  /** Default `closed`. */
  behaviour587?: PortBehaviour;
  /** Default `closed`. */
  behaviour465?: PortBehaviour;
  /** Name in the banner and the certificate. Default: `host`. */
  certName?: string;
  /** `slow-banner`: delay before the banner. */
  bannerDelayMs?: number;
  /**
   * The PTR record of the host's (IPv4) address. Default: the host's own name (forward-confirmed
   * reverse DNS, as a well-run mail host has); `null`: no PTR record; a name: that name.
   */
  ptr?: string | null;
}

export interface SrvSpec {
  host: string;
  /** The port published in the SRV record (what the service probes, before the port map). */
  port: ProbedPort;
  /** As for MxSpec.ip. */
  ip?: string | null;
  /** Behaviour on `port`. Default `good` (587) or `implicit-tls` (465). */
  behaviour?: PortBehaviour;
  certName?: string;
  priority?: number;
  weight?: number;
}

export interface MailDomainSpec {
  /** MX records. Omitted or empty: no MX record at all. */
  mx?: MxSpec[];
  /** Publish `MX 0 .` (RFC 7505), beside `mx` if given. */
  nullMx?: boolean;
  /** A records of the domain itself (implicit MX when there is no MX). */
  a?: string[];
  /** Start fake servers on the domain's own A addresses (loopback only): behaviour on 25. */
  aBehaviour25?: PortBehaviour;
  /** `_submission._tcp` SRV targets (RFC 6186). */
  submissionSrv?: SrvSpec[];
  /** `_submissions._tcp` SRV targets (implicit TLS). */
  submissionsSrv?: SrvSpec[];
  /** Extra TXT records at the apex (also makes the name exist without MX/A). */
  txt?: string[];
  /** Do not publish the domain at all (NXDOMAIN). */
  nxdomain?: boolean;
  /**
   * The domain's SPF record. Default `v=spf1 -all` (unless `txt` holds one), so a scenario that is
   * not about SPF raises no SPF finding; `null`: no SPF record.
   */
  spf?: string | null;
  /** TXT at `_dmarc.<name>`. Default `v=DMARC1; p=reject; rua=mailto:dmarc@<name>`; `null`: none. */
  dmarc?: string | null;
}

export interface MailHost {
  host: string;
  /** The address published (null: none). */
  ip: string | null;
}

export interface MailDomain {
  name: string;
  mx: MailHost[];
  submission: MailHost[];
  /** Every loopback address that got fake servers for this domain. */
  ips: string[];
}

interface Slot {
  ip: string;
  port: ProbedPort;
  behaviour: PortBehaviour;
  hostname: string;
  bannerDelayMs?: number;
  server: FakeSmtpServer | null;
}

export interface FakeInternet {
  dns: FakeDnsServer;
  /** Issues every fake mail server certificate; trusted by the service through NODE_EXTRA_CA_CERTS. */
  ca: TestCa;
  /** PEM file given as NODE_EXTRA_CA_CERTS (SMTP CA, plus the DNS CA for https). */
  caFile: string;
  /** The real port standing in for each probed port, the same on every address. */
  ports: Record<ProbedPort, number>;
  /** Environment for `startApp`: spread it and add DATABASE_URL / overrides. */
  env: Record<string, string>;
  /** MXWATCH_DNSBL_ZONES value for a set of zones (any zone served by `dnsbl()`). */
  zonesEnv(zones: DnsblZoneSpec[]): string;
  /** The fake DNSBL zone; created (healthy, TTL 0) on first use. */
  dnsbl(zone: string, kind?: 'ip' | 'domain'): FakeDnsbl;
  /** A loopback address no other scenario uses. */
  allocateIp(): string;
  addMailDomain(name: string, spec: MailDomainSpec): Promise<MailDomain>;
  /**
   * Publishes a host that no MX or SRV record names (e.g. a submission host declared through the
   * REST API) and starts its servers; defaults as for an MX (`good` on 25, the rest closed).
   */
  addHost(spec: MxSpec): Promise<MailHost>;
  /** Publishes (or with null removes) the PTR record of an IPv4 address, for hosts published through `dns` directly. */
  ptr(ip: string, name: string | null): void;
  /** Starts (or replaces) the fake server on ip for one probed port; `closed` just stops it. */
  setBehaviour(ip: string, port: ProbedPort, behaviour: PortBehaviour, options?: { hostname?: string; bannerDelayMs?: number }): Promise<void>;
  /** The running fake server on ip:port, or null. */
  server(ip: string, port: ProbedPort): FakeSmtpServer | null;
  /** Connections each fake server on `ip` accepted, by probed port. */
  connections(ip: string): Record<ProbedPort, number>;
  close(): Promise<void>;
}

const TTL = 0;
const DEFAULT_ZONES: DnsblZoneSpec[] = [
  { zone: 'zen.spamhaus.org', kind: 'ip' },
  { zone: 'dbl.spamhaus.org', kind: 'domain' },
];

function isLoopback(ip: string): boolean {
  return net.isIPv4(ip) && ip.startsWith('127.');
}

function canBind(port: number, host: string): Promise<boolean> {
  return new Promise((resolve) => {
    const s = net.createServer();
    s.once('error', () => resolve(false));
    s.listen({ port, host, exclusive: true }, () => s.close(() => resolve(true)));
  });
}

/**
 * Three distinct ports free on the addresses this internet uses. A listener bound to the
 * wildcard address anywhere on the machine makes the bind on 127.0.0.1 fail, so that catches
 * every other process; the probes on `ips` catch a concurrent suite on the same block. Taken
 * below the kernel's ephemeral range so outgoing connections never hold them.
 */
async function pickSharedPorts(ips: string[]): Promise<Record<ProbedPort, number>> {
  const chosen: number[] = [];
  for (let tries = 0; chosen.length < PROBED_PORTS.length; tries++) {
    if (tries > 500) throw new Error('fake internet: no free shared ports found');
    const port = 20_000 + Math.floor(Math.random() * 12_000);
    if (chosen.includes(port)) continue;
    const free = await Promise.all(['127.0.0.1', ...ips].map((ip) => canBind(port, ip)));
    if (free.every(Boolean)) chosen.push(port);
  }
  return { 25: chosen[0]!, 587: chosen[1]!, 465: chosen[2]! };
}

/** A random first address 127.x.y.1 (x in 20–219), so suites running at the same time do not share addresses. */
function randomFirstIp(): string {
  return `127.${20 + Math.floor(Math.random() * 200)}.${Math.floor(Math.random() * 256)}.1`;
}

function nextIp(ip: string): string {
  const n = ip.split('.').map(Number);
  for (let i = 3; i > 0; i--) {
    if (n[i]! < 254) {
      n[i]!++;
      return n.join('.');
    }
    n[i] = 1;
  }
  throw new Error('fake internet: out of loopback addresses');
}

export async function createFakeInternet(options: FakeInternetOptions = {}): Promise<FakeInternet> {
  const protocol = options.dnsProtocol ?? 'http';
  const plainDns = protocol === 'udp' || protocol === 'tcp';
  const dns = await FakeDnsServer.start({ host: '127.0.0.1', http: protocol === 'http', https: protocol === 'https', udp: plainDns || (options.dnsUdp ?? false), defaultTtl: TTL });
  // EC keys: an RSA key per fake server costs about a second on a loaded machine.
  const ca = await createTestCa({ commonName: 'mxwatch e2e fake internet CA', keyType: 'ec' });
  const dir = mkdtempSync(path.join(tmpdir(), 'mxwatch-fake-internet-'));
  const caFile = path.join(dir, 'ca.pem');
  writeFileSync(caFile, [ca.cert, dns.caCert].filter(Boolean).join('\n'));
  const firstIp = options.firstIp ?? randomFirstIp();
  const ports = await pickSharedPorts([firstIp, nextIp(firstIp), nextIp(nextIp(firstIp))]);
  for (const tld of options.tlds ?? ['test']) dns.setSoa(tld, 0, 0);
  // Reverse DNS of the fake hosts: negative answers must not be cached either.
  dns.setSoa('in-addr.arpa', 0, 0);

  const zones = new Map<string, FakeDnsbl>();
  const dnsbl = (zone: string, kind?: 'ip' | 'domain'): FakeDnsbl => {
    const existing = zones.get(zone);
    if (existing) return existing;
    if (!kind) throw new Error(`fake internet: DNSBL zone ${zone} is not served; give its kind`);
    const list = FakeDnsbl.healthy(dns, zone, kind, { ttl: TTL, negativeTtl: 0 });
    zones.set(zone, list);
    return list;
  };
  const configuredZones = options.dnsblZones?.length ? options.dnsblZones : DEFAULT_ZONES;
  for (const z of configuredZones) dnsbl(z.zone, z.kind);
  const zonesEnv = (list: DnsblZoneSpec[]) => list.map((z) => `${z.zone}:${z.kind}`).join(',');

  let lastIp: string | null = null;
  const allocateIp = () => (lastIp = lastIp === null ? firstIp : nextIp(lastIp));

  const slots = new Map<string, Slot>();
  const key = (ip: string, port: ProbedPort) => `${ip}:${port}`;

  const setBehaviour: FakeInternet['setBehaviour'] = async (ip, port, behaviour, opts = {}) => {
    if (!isLoopback(ip)) throw new Error(`fake internet: mail servers listen on 127.0.0.0/8 only, not ${ip}`);
    const k = key(ip, port);
    const old = slots.get(k);
    if (old?.server) await old.server.close();
    const slot: Slot = {
      ip,
      port,
      behaviour,
      hostname: opts.hostname ?? old?.hostname ?? 'mx.test',
      bannerDelayMs: opts.bannerDelayMs ?? old?.bannerDelayMs ?? options.slowBannerDelayMs ?? 1000,
      server: null,
    };
    slots.set(k, slot);
    if (behaviour === 'closed') return;
    slot.server = await startFakeSmtp({ behaviour, host: ip, port: ports[port], hostname: slot.hostname, ca, bannerDelayMs: slot.bannerDelayMs });
  };

  const startHost = async (ip: string, hostname: string, behaviours: Partial<Record<ProbedPort, PortBehaviour>>, bannerDelayMs?: number) => {
    await Promise.all(
      PROBED_PORTS.map((port) => {
        const b = behaviours[port];
        return b === undefined ? Promise.resolve() : setBehaviour(ip, port, b, { hostname, bannerDelayMs });
      }),
    );
  };

  /** PTR of an IPv4 address: `name` (default `fallback`), or none when `name` is null. */
  const publishPtr = (ip: string, name: string | null | undefined, fallback: string) => {
    if (!net.isIPv4(ip)) return;
    const reverse = `${ip.split('.').reverse().join('.')}.in-addr.arpa`;
    dns.setRecords(reverse, 'PTR', name === null ? [] : [name ?? fallback]);
  };

  const addMailDomain: FakeInternet['addMailDomain'] = async (name, spec) => {
    const domain = name.toLowerCase();
    const result: MailDomain = { name: domain, mx: [], submission: [], ips: [] };
    if (spec.nxdomain) {
      dns.removeTree(domain);
      return result;
    }
    const mxRecords: FakeMx[] = [];
    if (spec.nullMx) mxRecords.push({ preference: 0, exchange: '.' });

    /** Publishes a host (A or CNAME + A) and starts its servers; returns its address. */
    const published = new Map<string, string | null>();
    const publishHost = async (host: string, ipSpec: string | null | undefined, cnameTo: string | undefined, behaviours: Partial<Record<ProbedPort, PortBehaviour>>, certName?: string, bannerDelayMs?: number): Promise<string | null> => {
      if (net.isIP(host)) return null;
      // A host named again (an MX that is also the SRV submission target) keeps its address; only the named ports change.
      if (published.has(host) && ipSpec === undefined) {
        const ip = published.get(host)!;
        if (ip !== null && isLoopback(ip)) await startHost(ip, certName ?? host, behaviours, bannerDelayMs);
        return ip;
      }
      const ip = ipSpec === undefined ? allocateIp() : ipSpec;
      published.set(host, ip);
      const addressName = cnameTo ?? host;
      if (cnameTo) dns.setRecords(host, 'CNAME', [cnameTo]);
      if (ip !== null) dns.setRecords(addressName, 'A', [ip]);
      if (ip !== null) publishPtr(ip, ptrOf.get(host), addressName);
      if (ip !== null && isLoopback(ip)) {
        await startHost(ip, certName ?? host, behaviours, bannerDelayMs);
        if (!result.ips.includes(ip)) result.ips.push(ip);
      }
      return ip;
    };

    const ptrOf = new Map<string, string | null | undefined>((spec.mx ?? []).map((m) => [m.host, m.ptr]));
    for (const mx of spec.mx ?? []) {
      mxRecords.push({ preference: mx.pref ?? 10, exchange: mx.host });
      // The same host named twice (MX_DUPLICATE) is one host.
      const seen = result.mx.find((h) => h.host === mx.host);
      if (seen) {
        result.mx.push(seen);
        continue;
      }
      const ip = await publishHost(
        mx.host,
        mx.ip,
        mx.cnameTo,
        { 25: mx.behaviour25 ?? 'good', 587: mx.behaviour587 ?? 'closed', 465: mx.behaviour465 ?? 'closed' },
        mx.certName,
        mx.bannerDelayMs,
      );
      result.mx.push({ host: mx.host, ip });
    }
    if (mxRecords.length) dns.setRecords(domain, 'MX', mxRecords);
    if (spec.a?.length) {
      dns.setRecords(domain, 'A', spec.a);
      for (const ip of spec.a) publishPtr(ip, undefined, domain);
      for (const ip of spec.a) {
        if (!isLoopback(ip)) continue;
        await startHost(ip, domain, { 25: spec.aBehaviour25 ?? 'good', 587: 'closed', 465: 'closed' });
        result.ips.push(ip);
      }
    }
    for (const [label, list] of [['_submission._tcp', spec.submissionSrv], ['_submissions._tcp', spec.submissionsSrv]] as const) {
      if (!list?.length) continue;
      const records: FakeSrv[] = [];
      for (const s of list) {
        records.push({ priority: s.priority ?? 0, weight: s.weight ?? 1, port: s.port, target: s.host });
        const behaviour = s.behaviour ?? (s.port === 465 ? 'implicit-tls' : 'good');
        const ip = await publishHost(s.host, s.ip, undefined, { [s.port]: behaviour }, s.certName);
        result.submission.push({ host: s.host, ip });
      }
      dns.setRecords(`${label}.${domain}`, 'SRV', records);
    }
    // Every domain publishes TXT (an SPF record by default), which also makes the name exist, so "no MX" is NODATA rather than NXDOMAIN.
    const txt = [...(spec.txt ?? [])];
    if (spec.spf !== null && !txt.some((t) => /^v=spf1( |$)/i.test(t))) txt.push(spec.spf ?? 'v=spf1 -all');
    if (txt.length) dns.setRecords(domain, 'TXT', txt);
    else if (!mxRecords.length && !spec.a?.length && !spec.submissionSrv?.length && !spec.submissionsSrv?.length) dns.setRecords(domain, 'TXT', ['no spf']);
    const dmarc = spec.dmarc === undefined ? `v=DMARC1; p=reject; rua=mailto:dmarc@${domain}` : spec.dmarc;
    dns.setRecords(`_dmarc.${domain}`, 'TXT', dmarc === null ? [] : [dmarc]);
    return result;
  };

  const addHost: FakeInternet['addHost'] = async (spec) => {
    const ip = spec.ip === undefined ? allocateIp() : spec.ip;
    if (spec.cnameTo) dns.setRecords(spec.host, 'CNAME', [spec.cnameTo]);
    if (ip !== null) dns.setRecords(spec.cnameTo ?? spec.host, 'A', [ip]);
    if (ip !== null) publishPtr(ip, spec.ptr, spec.cnameTo ?? spec.host);
    if (ip !== null && isLoopback(ip)) {
      await startHost(ip, spec.certName ?? spec.host, { 25: spec.behaviour25 ?? 'good', 587: spec.behaviour587 ?? 'closed', 465: spec.behaviour465 ?? 'closed' }, spec.bannerDelayMs);
    }
    return { host: spec.host, ip };
  };

  const env: Record<string, string> = {
    MXWATCH_DNS_SERVERS: plainDns ? dns.udpAddress! : protocol === 'http' ? dns.httpAddress! : dns.httpsAddress!,
    MXWATCH_DNS_PROTOCOL: protocol,
    MXWATCH_DNS_TIMEOUT_MS: '400',
    MXWATCH_DNS_ATTEMPTS: '2',
    MXWATCH_ALLOW_PRIVATE_TARGETS: '127.0.0.0/8',
    MXWATCH_PORT_MAP: PROBED_PORTS.map((p) => `${p}:${ports[p]}`).join(','),
    MXWATCH_SMTP_PORTS: PROBED_PORTS.join(','),
    MXWATCH_ALERT_AFTER: '1',
    MXWATCH_SCHEDULER: 'false',
    MXWATCH_CHECK_TIMEOUT: '6',
    MXWATCH_SMTP_CONNECT_TIMEOUT_MS: '1000',
    MXWATCH_SMTP_REPLY_TIMEOUT_MS: '1500',
    MXWATCH_SLOW_BANNER_MS: '500',
    MXWATCH_EHLO_NAME: 'probe.mxwatch.test',
    MXWATCH_DNSBL_ZONES: zonesEnv(configuredZones),
    NODE_EXTRA_CA_CERTS: caFile,
  };

  return {
    dns,
    ca,
    caFile,
    ports,
    env,
    zonesEnv,
    dnsbl,
    allocateIp,
    addMailDomain,
    addHost,
    ptr: (ip, name) => publishPtr(ip, name, ''),
    setBehaviour,
    server: (ip, port) => slots.get(key(ip, port))?.server ?? null,
    connections: (ip) => ({
      25: slots.get(key(ip, 25))?.server?.connections ?? 0,
      587: slots.get(key(ip, 587))?.server?.connections ?? 0,
      465: slots.get(key(ip, 465))?.server?.connections ?? 0,
    }),
    async close() {
      await Promise.all([...slots.values()].map((s) => s.server?.close()));
      slots.clear();
      await dns.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
