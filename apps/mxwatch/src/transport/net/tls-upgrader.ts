import { X509Certificate } from 'node:crypto';
import { readFileSync } from 'node:fs';
import net, { type Socket } from 'node:net';
import tls, { type DetailedPeerCertificate, type TLSSocket } from 'node:tls';
import type { TlsUpgrader } from '../transport.types.js';

export type TlsUpgradeErrorKind = 'protocol_version' | 'handshake' | 'timeout' | 'closed' | 'aborted';

export class TlsUpgradeError extends Error {
  constructor(
    readonly kind: TlsUpgradeErrorKind,
    message: string,
    /** OpenSSL / Node error code when there is one, e.g. ERR_SSL_TLSV1_ALERT_PROTOCOL_VERSION. */
    readonly code: string | null = null,
  ) {
    super(message);
    this.name = 'TlsUpgradeError';
  }
}

/** An upgrader that can hand out a variant accepting TLS 1.0/1.1, to diagnose old servers instead of calling them broken. */
export interface LegacyCapableTlsUpgrader extends TlsUpgrader {
  withLegacyProtocols(): TlsUpgrader;
}

/** An upgrader that tells which roots it trusts, so trust can be re-checked with validity dates set aside. */
export interface TrustAnchorSource {
  trustAnchors(): X509Certificate[];
}

export function isLegacyCapable(u: TlsUpgrader): u is LegacyCapableTlsUpgrader {
  return typeof (u as Partial<LegacyCapableTlsUpgrader>).withLegacyProtocols === 'function';
}

export function isTrustAnchorSource(u: unknown): u is TrustAnchorSource {
  return typeof (u as Partial<TrustAnchorSource>)?.trustAnchors === 'function';
}

const PROTOCOL_VERSION_CODES = new Set([
  'ERR_SSL_TLSV1_ALERT_PROTOCOL_VERSION',
  'ERR_SSL_UNSUPPORTED_PROTOCOL',
  'ERR_SSL_NO_PROTOCOLS_AVAILABLE',
  'ERR_SSL_UNKNOWN_PROTOCOL',
]);

export interface NodeTlsUpgraderOptions {
  /** Extra roots trusted besides Node's bundled store (tests pass their test CA). */
  ca?: string | Buffer | Array<string | Buffer>;
  /** Accept TLS 1.0/1.1 and weak ciphers: only to tell an outdated server from a broken one. */
  legacy?: boolean;
}

let defaultAnchors: X509Certificate[] | null = null;
let nodeExtraCaFile: string | undefined;

/**
 * Names the NODE_EXTRA_CA_CERTS file Node read at start (main.ts passes it from the config; only
 * config/ reads the environment). Without it, only Node's bundled roots count as trusted here.
 */
export function useNodeExtraCaFile(file: string | undefined): void {
  nodeExtraCaFile = file;
  defaultAnchors = null;
  sharedDefault = null;
}

/**
 * The roots Node's default store trusts: its bundled ones plus the NODE_EXTRA_CA_CERTS file, which
 * Node itself reads at startup. `tls.rootCertificates` lists only the bundled ones (before Node
 * 22.15), and without the others an expired certificate from a CA the operator added would also
 * be called untrusted.
 */
function nodeDefaultCaPems(): string[] {
  const getCACertificates = (tls as { getCACertificates?: (type?: string) => string[] }).getCACertificates;
  if (getCACertificates) return getCACertificates('default');
  if (!nodeExtraCaFile) return [...tls.rootCertificates];
  try {
    return [...tls.rootCertificates, readFileSync(nodeExtraCaFile, 'utf8')];
  } catch {
    // Node only warns about an unreadable file and carries on with its bundled roots; so do we.
    return [...tls.rootCertificates];
  }
}

function parseAnchors(pems: Array<string | Buffer>): X509Certificate[] {
  const out: X509Certificate[] = [];
  for (const pem of pems) {
    const text = pem.toString();
    for (const block of text.match(/-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g) ?? []) {
      try {
        out.push(new X509Certificate(block));
      } catch {
        // A malformed root in a bundle must not disable trust checking for the rest.
      }
    }
  }
  return out;
}

export class NodeTlsUpgrader implements LegacyCapableTlsUpgrader, TrustAnchorSource {
  private readonly extraCa: Array<string | Buffer>;
  private anchors: X509Certificate[] | null = null;
  /**
   * One context for every handshake of this upgrader: building one per connection (roots, ciphers)
   * was about a tenth of an SMTP probe's CPU. Clients never resume sessions on their own (Node
   * keeps no client session cache), so each handshake is still a full one.
   */
  private context: tls.SecureContext | null = null;
  private legacy: NodeTlsUpgrader | null = null;

  constructor(private readonly options: NodeTlsUpgraderOptions = {}) {
    this.extraCa = options.ca === undefined ? [] : Array.isArray(options.ca) ? options.ca : [options.ca];
  }

  withLegacyProtocols(): TlsUpgrader {
    if (this.options.legacy) return this;
    this.legacy ??= new NodeTlsUpgrader({ ...this.options, legacy: true });
    return this.legacy;
  }

  private secureContext(): tls.SecureContext {
    if (!this.context) {
      const options: tls.SecureContextOptions = {};
      if (this.extraCa.length) options.ca = [...tls.rootCertificates, ...this.extraCa];
      if (this.options.legacy) {
        options.minVersion = 'TLSv1';
        options.ciphers = 'DEFAULT@SECLEVEL=0';
      }
      this.context = tls.createSecureContext(options);
    }
    return this.context;
  }

  trustAnchors(): X509Certificate[] {
    defaultAnchors ??= parseAnchors(nodeDefaultCaPems());
    this.anchors ??= [...defaultAnchors, ...parseAnchors(this.extraCa)];
    return this.anchors;
  }

  upgrade(socket: Socket, options: { servername?: string; deadline: number; signal?: AbortSignal }): Promise<TLSSocket> {
    const budget = options.deadline - Date.now();
    if (options.signal?.aborted) return Promise.reject(new TlsUpgradeError('aborted', 'aborted before the TLS handshake'));
    if (budget <= 0) return Promise.reject(new TlsUpgradeError('timeout', 'no time left for the TLS handshake'));
    const servername = options.servername?.replace(/\.$/, '');
    const connectOptions: tls.ConnectionOptions = {
      socket,
      secureContext: this.secureContext(),
      // Node reads the detailed peer certificate for this check on every verified handshake; keeping
      // it spares the probe a second getPeerCertificate(true), a fifth of an SMTP probe's CPU.
      checkServerIdentity: (host, cert) => {
        verifiedPeers.set(tlsSocket, cert as DetailedPeerCertificate);
        return tls.checkServerIdentity(host, cert);
      },
      // Verification is recorded (authorized / authorizationError), never fatal: the probe reports it.
      rejectUnauthorized: false,
      // SNI must be a host name (RFC 6066); Node warns on IP literals.
      servername: servername && net.isIP(servername) === 0 ? servername : undefined,
    };
    let tlsSocket: TLSSocket;
    return new Promise<TLSSocket>((resolve, reject) => {
      let settled = false;
      tlsSocket = tls.connect(connectOptions);
      const done = (err: TlsUpgradeError | null) => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        options.signal?.removeEventListener('abort', onAbort);
        tlsSocket.removeListener('secureConnect', onSecure);
        tlsSocket.removeListener('error', onError);
        tlsSocket.removeListener('close', onClose);
        if (err) {
          tlsSocket.destroy();
          socket.destroy();
          reject(err);
        } else {
          resolve(tlsSocket);
        }
      };
      const onSecure = () => {
        tlsSocket.on('error', () => undefined);
        done(null);
      };
      const onError = (err: NodeJS.ErrnoException) => {
        const code = err.code ?? null;
        const kind = code && PROTOCOL_VERSION_CODES.has(code) ? 'protocol_version' : 'handshake';
        done(new TlsUpgradeError(kind, describeTlsError(err), code));
      };
      const onClose = () => done(new TlsUpgradeError('closed', 'connection closed during the TLS handshake'));
      const onAbort = () => done(new TlsUpgradeError('aborted', 'aborted during the TLS handshake'));
      const timer = setTimeout(() => done(new TlsUpgradeError('timeout', `TLS handshake not finished within ${budget} ms`)), budget);
      tlsSocket.once('secureConnect', onSecure);
      tlsSocket.on('error', onError);
      tlsSocket.once('close', onClose);
      options.signal?.addEventListener('abort', onAbort, { once: true });
    });
  }
}

const verifiedPeers = new WeakMap<TLSSocket, DetailedPeerCertificate>();

/** `socket.getPeerCertificate(true)`, read once: the one Node's own identity check read, when it ran. */
export function peerCertificate(socket: TLSSocket): DetailedPeerCertificate {
  let peer = verifiedPeers.get(socket);
  if (!peer) {
    peer = socket.getPeerCertificate(true);
    verifiedPeers.set(socket, peer);
  }
  return peer;
}

let sharedDefault: NodeTlsUpgrader | null = null;

/** The upgrader of probes given none: Node's default trust store, one secure context for the process. */
export function defaultTlsUpgrader(): NodeTlsUpgrader {
  sharedDefault ??= new NodeTlsUpgrader();
  return sharedDefault;
}

/** OpenSSL messages carry a file path and line; operators need the code and the reason only. */
export function describeTlsError(err: NodeJS.ErrnoException): string {
  const reason = /:([^:]+):[^:]*\.c:\d+/.exec(err.message)?.[1] ?? err.message.split('\n')[0]!.trim();
  return err.code ? `${err.code} (${reason.trim()})` : reason.trim();
}

/** Node's `authorizationError` codes that are about validity dates, not about the chain. */
export const TIME_VERIFY_ERRORS = new Set(['CERT_HAS_EXPIRED', 'CERT_NOT_YET_VALID']);

/**
 * Whether the presented chain leads to a trusted root, with validity dates set aside.
 * Needed because OpenSSL reports only its last verification error: a self-signed certificate
 * that has also expired comes back as CERT_HAS_EXPIRED alone, hiding that nobody trusts it.
 * Returns the OpenSSL-style code of the trust failure, or null when the chain is trusted.
 */
export function chainTrustErrorIgnoringTime(peer: DetailedPeerCertificate, anchors: X509Certificate[]): string | null {
  const presented: X509Certificate[] = [];
  const seen = new Set<string>();
  let node: DetailedPeerCertificate | undefined = peer;
  while (node?.raw && !seen.has(node.fingerprint256) && presented.length < 10) {
    seen.add(node.fingerprint256);
    try {
      presented.push(new X509Certificate(node.raw));
    } catch {
      break;
    }
    node = node.issuerCertificate;
  }
  if (presented.length === 0) return 'UNABLE_TO_VERIFY_LEAF_SIGNATURE';
  const issues = (issuer: X509Certificate, subject: X509Certificate) => {
    try {
      return subject.checkIssued(issuer) && subject.verify(issuer.publicKey);
    } catch {
      return false;
    }
  };
  // checkIssued would also demand keyCertSign, which a self-signed leaf usually lacks.
  const selfSigned = (c: X509Certificate) => {
    try {
      return c.subject === c.issuer && c.verify(c.publicKey);
    } catch {
      return false;
    }
  };
  let current = presented[0]!;
  for (let depth = 0; depth < 10; depth++) {
    if (anchors.some((a) => a.fingerprint256 === current.fingerprint256 || issues(a, current))) return null;
    if (selfSigned(current)) return depth === 0 ? 'DEPTH_ZERO_SELF_SIGNED_CERT' : 'SELF_SIGNED_CERT_IN_CHAIN';
    const next = presented.find((c) => c !== current && issues(c, current));
    if (!next) return depth === 0 ? 'UNABLE_TO_VERIFY_LEAF_SIGNATURE' : 'UNABLE_TO_GET_ISSUER_CERT_LOCALLY';
    current = next;
  }
  return 'CERT_CHAIN_TOO_LONG';
}
