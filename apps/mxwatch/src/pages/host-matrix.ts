/**
 * Arranges one run's MX, SMTP, STARTTLS and DNSBL results as operators read them: host →
 * address → port (reachability, STARTTLS, TLS, certificate) and address → list. It reads the
 * results' stored details defensively: a field a probe stopped writing shows as unknown, never
 * as an error page.
 */

export interface StoredResult {
  probe: string;
  target: string;
  status: string;
  reason: string | null;
  details: Record<string, unknown>;
}

export interface CertView {
  subject: string | null;
  sans: string[];
  issuer: string | null;
  notAfter: Date | null;
  trusted: boolean | null;
  nameMatch: boolean | null;
  authorizationError: string | null;
}

export interface PortView {
  port: number;
  role: string | null;
  smtp: { status: string; reason: string | null; open: boolean | null; banner: string | null; error: string | null; connectMs: number | null; bannerMs: number | null } | null;
  tls: { status: string; reason: string | null; offered: boolean | null; implicitTls: boolean; handshakeOk: boolean | null; version: string | null; cipher: string | null; cert: CertView | null; error: string | null } | null;
}

export interface ListingView {
  zone: string;
  subject: string;
  status: string;
  state: string | null;
  codes: string[];
  txt: string | null;
  error: string | null;
}

export interface AddressView {
  ip: string;
  ports: PortView[];
  listings: ListingView[];
}

export interface HostView {
  host: string;
  preference: number | null;
  cname: string | null;
  resolveError: string | null;
  addresses: AddressView[];
}

export interface HostMatrix {
  mx: { status: string; reason: string | null; nullMx: boolean; implicit: boolean; error: string | null } | null;
  mxHosts: HostView[];
  /** Hosts probed only as submission servers (declared or RFC 6186 SRV). */
  submissionHosts: HostView[];
  /** Listings of the domain name itself, and of sending IPs that are no MX address. */
  otherListings: ListingView[];
}

const str = (v: unknown): string | null => (typeof v === 'string' ? v : null);
const num = (v: unknown): number | null => (typeof v === 'number' && Number.isFinite(v) ? v : null);
const bool = (v: unknown): boolean | null => (typeof v === 'boolean' ? v : null);
const obj = (v: unknown): Record<string, unknown> | null => (v && typeof v === 'object' && !Array.isArray(v) ? (v as Record<string, unknown>) : null);
const strings = (v: unknown): string[] => (Array.isArray(v) ? v.map((x) => (typeof x === 'string' ? x : JSON.stringify(x))) : []);

function cert(v: unknown): CertView | null {
  const c = obj(v);
  if (!c) return null;
  const notAfter = str(c.notAfter);
  const d = notAfter ? new Date(notAfter) : null;
  return {
    subject: str(c.subject),
    sans: strings(c.sans),
    issuer: str(c.issuer),
    notAfter: d && !Number.isNaN(d.getTime()) ? d : null,
    trusted: null,
    nameMatch: null,
    authorizationError: null,
  };
}

/** `host[ip]:port` → its parts (the target format of SMTP and STARTTLS results). */
export function parseEndpointTarget(target: string): { host: string; ip: string; port: number } | null {
  const m = /^(.*)\[([^\]]+)\]:(\d+)$/.exec(target);
  return m ? { host: m[1]!, ip: m[2]!, port: Number(m[3]) } : null;
}

function listing(r: StoredResult): ListingView {
  const d = r.details;
  return {
    zone: str(d.zone) ?? r.target.split('@')[1] ?? '',
    subject: str(d.subject) ?? r.target.split('@')[0] ?? r.target,
    status: r.status,
    state: str(d.state),
    codes: strings(d.codes).map((c) => c),
    txt: str(d.txt),
    error: str(d.error),
  };
}

export function buildHostMatrix(results: readonly StoredResult[]): HostMatrix {
  const mxResult = results.find((r) => r.probe === 'mx') ?? null;
  const hosts = new Map<string, HostView>();
  const mxHosts: HostView[] = [];
  const address = (h: HostView, ip: string): AddressView => {
    let a = h.addresses.find((x) => x.ip === ip);
    if (!a) h.addresses.push((a = { ip, ports: [], listings: [] }));
    return a;
  };
  for (const raw of Array.isArray(mxResult?.details.hosts) ? (mxResult!.details.hosts as unknown[]) : []) {
    const h = obj(raw);
    const name = h ? str(h.host) : null;
    if (!h || !name || hosts.has(name)) continue;
    const view: HostView = { host: name, preference: num(h.preference), cname: str(h.cname), resolveError: str(h.resolveError), addresses: [] };
    for (const ip of strings(h.addresses)) address(view, ip);
    hosts.set(name, view);
    mxHosts.push(view);
  }
  const submissionHosts: HostView[] = [];
  const port = (r: StoredResult): PortView | null => {
    const t = parseEndpointTarget(r.target);
    if (!t) return null;
    let h = hosts.get(t.host);
    if (!h) {
      h = { host: t.host, preference: null, cname: null, resolveError: null, addresses: [] };
      hosts.set(t.host, h);
      submissionHosts.push(h);
    }
    const a = address(h, t.ip);
    let p = a.ports.find((x) => x.port === t.port);
    if (!p) a.ports.push((p = { port: t.port, role: null, smtp: null, tls: null }));
    return p;
  };
  for (const r of results) {
    const d = r.details;
    if (r.probe === 'smtp') {
      const p = port(r);
      if (!p) continue;
      p.role = str(d.role);
      p.smtp = { status: r.status, reason: r.reason, open: bool(d.open), banner: str(d.banner), error: str(d.error), connectMs: num(d.connectMs), bannerMs: num(d.bannerMs) };
    } else if (r.probe === 'starttls') {
      const p = port(r);
      if (!p) continue;
      const c = cert(d.cert);
      if (c) {
        c.trusted = bool(d.trusted);
        c.nameMatch = bool(d.nameMatch);
        c.authorizationError = str(d.authorizationError);
      }
      p.tls = { status: r.status, reason: r.reason, offered: bool(d.offered), implicitTls: d.implicitTls === true, handshakeOk: bool(d.handshakeOk), version: str(d.tlsVersion), cipher: str(d.cipher), cert: c, error: str(d.error) };
    }
  }
  const otherListings: ListingView[] = [];
  for (const r of results) {
    if (r.probe !== 'dnsbl') continue;
    const l = listing(r);
    const owners = [...hosts.values()].flatMap((h) => h.addresses.filter((a) => a.ip === l.subject));
    if (owners.length === 0) otherListings.push(l);
    for (const a of owners) a.listings.push(l);
  }
  for (const h of hosts.values()) for (const a of h.addresses) a.ports.sort((x, y) => x.port - y.port);
  return {
    mx: mxResult
      ? { status: mxResult.status, reason: mxResult.reason, nullMx: mxResult.details.nullMx === true, implicit: mxResult.details.implicit === true, error: str(mxResult.details.error) }
      : null,
    mxHosts,
    submissionHosts,
    otherListings,
  };
}

/** Whole days from `now` to `notAfter` (negative once expired). */
export function daysLeft(notAfter: Date, now: Date): number {
  return Math.floor((notAfter.getTime() - now.getTime()) / 86_400_000);
}
