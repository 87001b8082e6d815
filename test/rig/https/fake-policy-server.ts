/**
 * A fake HTTPS web server for MTA-STS policies (and any other HTTPS fetch), on one 127.x address
 * and one port. The service's MXWATCH_PORT_MAP maps 443 to that one port for every name, so the
 * server tells its sites apart the way a real shared web host does: by SNI (which certificate)
 * and by Host (which answer). Each site has one behaviour a real misconfigured host has.
 *
 * ```ts
 * const web = await FakePolicyServer.start({ ca, ip: '127.9.0.1' });
 * await web.setSite('mta-sts.ok.test', { behaviour: 'good', body: 'version: STSv1\n...' });
 * // publish mta-sts.ok.test A 127.9.0.1 in the fake DNS; map 443 -> web.port
 * ```
 */
import { once } from 'node:events';
import https from 'node:https';
import type { AddressInfo } from 'node:net';
import tls from 'node:tls';
import { createSelfSigned, type TestCa } from '../tls/test-ca.js';

export const POLICY_SITE_BEHAVIOURS = [
  'good',
  /** Certificate from the test CA whose validity ended yesterday. */
  'expired',
  /** Certificate from the test CA for another name. */
  'wrong-name',
  /** Certificate signed by its own key. */
  'self-signed',
  /** 301 to the same path on another host. */
  'redirect',
  'not-found',
  /** A body larger than the fetcher's 64 KiB cap (with Content-Length). */
  'oversized',
  /** The same, streamed chunked, so only counting the bytes can catch it. */
  'oversized-chunked',
  /** The policy served as text/html. */
  'wrong-content-type',
  /** Headers sent, body never finished. */
  'stall',
] as const;
export type PolicySiteBehaviour = (typeof POLICY_SITE_BEHAVIOURS)[number];

export interface PolicySite {
  behaviour: PolicySiteBehaviour;
  /** Served at `path` (default the MTA-STS well-known path). */
  body?: string;
  path?: string;
  /** Default `text/plain; charset=utf-8`; `wrong-content-type` forces text/html. */
  contentType?: string;
  /** Answer only after this long (to see requests overlap or not). */
  delayMs?: number;
  /** Extra response headers (e.g. a Set-Cookie the client must not send back). */
  headers?: Record<string, string>;
}

export interface PolicyRequest {
  sni: string | null;
  host: string | null;
  path: string;
  headers: Record<string, string | string[] | undefined>;
}

const DAY_MS = 86_400_000;
export const MTA_STS_PATH = '/.well-known/mta-sts.txt';

export class FakePolicyServer {
  private readonly sites = new Map<string, PolicySite>();
  private readonly contexts = new Map<string, tls.SecureContext>();
  private readonly sniSeen = new WeakMap<object, string>();
  readonly requests: PolicyRequest[] = [];
  /** TLS handshakes completed, whatever followed. */
  handshakes = 0;
  /** Most requests in progress at once, per Host. */
  readonly maxInFlight = new Map<string, number>();
  private readonly inFlight = new Map<string, number>();

  private constructor(
    private readonly server: https.Server,
    private readonly ca: TestCa,
    readonly ip: string,
  ) {}

  get port(): number {
    return (this.server.address() as AddressInfo).port;
  }

  static async start(options: { ca: TestCa; ip?: string; port?: number }): Promise<FakePolicyServer> {
    const ip = options.ip ?? '127.0.0.1';
    const fallback = await options.ca.issue({ commonName: 'default.invalid' });
    let self: FakePolicyServer | null = null;
    const server = https.createServer({
      key: fallback.key,
      cert: fallback.chain,
      SNICallback: (name, cb) => cb(null, self?.contexts.get(name.toLowerCase()) ?? undefined),
    });
    self = new FakePolicyServer(server, options.ca, ip);
    const me = self;
    server.on('secureConnection', (s: tls.TLSSocket) => {
      me.handshakes++;
      const sni = (s as tls.TLSSocket & { servername?: string | false }).servername;
      if (sni) me.sniSeen.set(s, sni);
    });
    server.on('request', (req, res) => {
      const host = (req.headers.host ?? '').toLowerCase();
      const n = (me.inFlight.get(host) ?? 0) + 1;
      me.inFlight.set(host, n);
      me.maxInFlight.set(host, Math.max(n, me.maxInFlight.get(host) ?? 0));
      res.on('close', () => me.inFlight.set(host, (me.inFlight.get(host) ?? 1) - 1));
      const delay = me.sites.get(host.replace(/:\d+$/, ''))?.delayMs ?? 0;
      if (delay > 0) setTimeout(() => me.handle(req, res), delay);
      else me.handle(req, res);
    });
    server.listen(options.port ?? 0, ip);
    await once(server, 'listening');
    return self;
  }

  /** Adds or replaces a site; issues its certificate for its behaviour. */
  async setSite(name: string, site: PolicySite): Promise<void> {
    const host = name.toLowerCase();
    const now = Date.now();
    let pair: { key: string; cert: string };
    if (site.behaviour === 'expired') {
      const c = await this.ca.issue({ commonName: host, notBefore: new Date(now - 400 * DAY_MS), notAfter: new Date(now - DAY_MS) });
      pair = { key: c.key, cert: c.chain };
    } else if (site.behaviour === 'wrong-name') {
      const c = await this.ca.issue({ commonName: `other.${host}`, altNames: [`other.${host}`] });
      pair = { key: c.key, cert: c.chain };
    } else if (site.behaviour === 'self-signed') {
      pair = await createSelfSigned({ commonName: host, keyType: this.ca.keyType });
    } else {
      const c = await this.ca.issue({ commonName: host });
      pair = { key: c.key, cert: c.chain };
    }
    this.contexts.set(host, tls.createSecureContext(pair));
    this.sites.set(host, site);
  }

  removeSite(name: string): void {
    this.sites.delete(name.toLowerCase());
    this.contexts.delete(name.toLowerCase());
  }

  /** Changes what a site serves without touching its certificate. */
  setBody(name: string, body: string): void {
    const site = this.sites.get(name.toLowerCase());
    if (!site) throw new Error(`no site ${name}`);
    site.body = body;
  }

  private handle(req: import('node:http').IncomingMessage, res: import('node:http').ServerResponse): void {
    const host = (req.headers.host ?? '').replace(/:\d+$/, '').toLowerCase();
    this.requests.push({ sni: this.sniSeen.get(req.socket) ?? null, host: req.headers.host ?? null, path: req.url ?? '', headers: req.headers });
    const site = this.sites.get(host);
    if (!site) {
      res.writeHead(421, { 'content-type': 'text/plain' }).end('misdirected request\n');
      return;
    }
    const path = site.path ?? MTA_STS_PATH;
    if (site.behaviour === 'redirect') {
      res.writeHead(301, { location: `https://www.${host}${req.url ?? '/'}` }).end();
      return;
    }
    if (site.behaviour === 'not-found' || req.url !== path) {
      res.writeHead(404, { 'content-type': 'text/plain' }).end('not found\n');
      return;
    }
    const contentType = site.behaviour === 'wrong-content-type' ? 'text/html; charset=utf-8' : (site.contentType ?? 'text/plain; charset=utf-8');
    const body = site.body ?? '';
    if (site.behaviour === 'oversized') {
      const big = `${body}${'#'.repeat(70 * 1024)}\n`;
      res.writeHead(200, { 'content-type': contentType, 'content-length': Buffer.byteLength(big) }).end(big);
      return;
    }
    if (site.behaviour === 'oversized-chunked') {
      res.writeHead(200, { 'content-type': contentType });
      for (let i = 0; i < 70; i++) res.write('#'.repeat(1024));
      res.end(body);
      return;
    }
    if (site.behaviour === 'stall') {
      res.writeHead(200, { 'content-type': contentType });
      res.write(body.slice(0, 10));
      return;
    }
    res.writeHead(200, { ...site.headers, 'content-type': contentType, 'content-length': Buffer.byteLength(body) }).end(body);
  }

  async close(): Promise<void> {
    this.server.closeAllConnections();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }
}
