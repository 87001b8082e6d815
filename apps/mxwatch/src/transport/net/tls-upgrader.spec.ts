import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import tls from 'node:tls';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { type TestCa, createSelfSigned, createTestCa } from '../../../../../test/rig/tls/test-ca.js';
import { NodeTlsUpgrader, TlsUpgradeError, chainTrustErrorIgnoringTime, useNodeExtraCaFile } from './tls-upgrader.js';

const DAY = 86_400_000;
let ca: TestCa;
const servers: net.Server[] = [];
const accepted: net.Socket[] = [];

beforeAll(async () => {
  ca = await createTestCa();
});

afterEach(async () => {
  for (const s of accepted.splice(0)) s.destroy();
  await Promise.all(servers.splice(0).map((s) => new Promise<void>((r) => s.close(() => r()))));
});

async function tlsServer(options: tls.TlsOptions): Promise<number> {
  const server = tls.createServer(options, (s) => s.on('error', () => undefined));
  server.on('connection', (s: net.Socket) => accepted.push(s));
  server.on('tlsClientError', () => undefined);
  servers.push(server);
  await new Promise<void>((r) => server.listen(0, '127.0.0.6', r));
  return (server.address() as net.AddressInfo).port;
}

async function rawSocket(port: number): Promise<net.Socket> {
  const s = net.connect({ host: '127.0.0.6', port });
  s.on('error', () => undefined);
  await new Promise((r) => s.once('connect', r));
  return s;
}

describe(NodeTlsUpgrader.name, () => {
  it('should upgrade, send SNI and record trust without failing on it', async () => {
    const leaf = await ca.issue({ commonName: 'mx.test' });
    let sni: string | undefined;
    const port = await tlsServer({ key: leaf.key, cert: leaf.cert, SNICallback: (name, cb) => ((sni = name), cb(null, undefined)) });
    const trusted = await new NodeTlsUpgrader({ ca: ca.cert }).upgrade(await rawSocket(port), { servername: 'mx.test.', deadline: Date.now() + 5000 });
    expect(trusted.authorized).toBe(true);
    expect(sni).toBe('mx.test');
    trusted.destroy();
    const untrusted = await new NodeTlsUpgrader().upgrade(await rawSocket(port), { servername: 'mx.test', deadline: Date.now() + 5000 });
    expect(untrusted.authorized).toBe(false);
    expect(untrusted.authorizationError).toBeTruthy();
    untrusted.destroy();
  });

  it('should classify a TLS 1.0-only server as a protocol-version failure and reach it in legacy mode', async () => {
    const leaf = await ca.issue({ commonName: 'mx.test' });
    const port = await tlsServer({ key: leaf.key, cert: leaf.cert, minVersion: 'TLSv1', maxVersion: 'TLSv1', ciphers: 'DEFAULT@SECLEVEL=0' });
    const modern = new NodeTlsUpgrader({ ca: ca.cert });
    const err = await modern.upgrade(await rawSocket(port), { servername: 'mx.test', deadline: Date.now() + 5000 }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(TlsUpgradeError);
    expect(err).toMatchObject({ kind: 'protocol_version', code: 'ERR_SSL_TLSV1_ALERT_PROTOCOL_VERSION' });
    const legacy = await modern.withLegacyProtocols().upgrade(await rawSocket(port), { servername: 'mx.test', deadline: Date.now() + 5000 });
    expect(legacy.getProtocol()).toBe('TLSv1');
    legacy.destroy();
  });

  it('should time out against a peer that never answers the handshake', async () => {
    const server = net.createServer((s) => {
      s.on('error', () => undefined);
      accepted.push(s);
    });
    servers.push(server);
    await new Promise<void>((r) => server.listen(0, '127.0.0.6', r));
    const socket = await rawSocket((server.address() as net.AddressInfo).port);
    const started = Date.now();
    await expect(new NodeTlsUpgrader().upgrade(socket, { servername: 'mx.test', deadline: Date.now() + 200 })).rejects.toMatchObject({ kind: 'timeout' });
    expect(Date.now() - started).toBeLessThan(3000);
    expect(socket.destroyed).toBe(true);
  });
});

describe(chainTrustErrorIgnoringTime.name, () => {
  async function peerOf(key: string, cert: string): Promise<tls.DetailedPeerCertificate> {
    const port = await tlsServer({ key, cert });
    const s = await new NodeTlsUpgrader().upgrade(await rawSocket(port), { servername: 'mx.test', deadline: Date.now() + 5000 });
    const peer = s.getPeerCertificate(true);
    s.destroy();
    return peer;
  }

  it('should trust an expired certificate from a trusted CA once dates are set aside', async () => {
    const leaf = await ca.issue({ commonName: 'mx.test', notBefore: new Date(Date.now() - 30 * DAY), notAfter: new Date(Date.now() - DAY) });
    const anchors = new NodeTlsUpgrader({ ca: ca.cert }).trustAnchors();
    expect(chainTrustErrorIgnoringTime(await peerOf(leaf.key, leaf.cert), anchors)).toBeNull();
    expect(chainTrustErrorIgnoringTime(await peerOf(leaf.key, leaf.cert), new NodeTlsUpgrader().trustAnchors())).toBe('UNABLE_TO_VERIFY_LEAF_SIGNATURE');
  });

  it('should trust, dates set aside, an expired certificate from a CA added through NODE_EXTRA_CA_CERTS', async () => {
    const leaf = await ca.issue({ commonName: 'mx.test', notBefore: new Date(Date.now() - 30 * DAY), notAfter: new Date(Date.now() - DAY) });
    const dir = mkdtempSync(path.join(tmpdir(), 'mxwatch-extra-ca-'));
    const file = path.join(dir, 'extra.pem');
    writeFileSync(file, ca.cert);
    try {
      // main.ts names the file Node read at start (NODE_EXTRA_CA_CERTS, through the config).
      useNodeExtraCaFile(file);
      expect(chainTrustErrorIgnoringTime(await peerOf(leaf.key, leaf.cert), new NodeTlsUpgrader().trustAnchors())).toBeNull();
    } finally {
      useNodeExtraCaFile(undefined);
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('should name a self-signed certificate as such', async () => {
    const self = await createSelfSigned({ commonName: 'mx.test', notBefore: new Date(Date.now() - 30 * DAY), notAfter: new Date(Date.now() - DAY) });
    expect(chainTrustErrorIgnoringTime(await peerOf(self.key, self.cert), new NodeTlsUpgrader().trustAnchors())).toBe('DEPTH_ZERO_SELF_SIGNED_CERT');
  });

  it('should follow a served chain to an untrusted root', async () => {
    const leaf = await ca.issue({ commonName: 'mx.test' });
    // test-ca's `chain` joins the PEMs without a newline, which OpenSSL refuses; join them here.
    expect(chainTrustErrorIgnoringTime(await peerOf(leaf.key, `${leaf.cert.trim()}\n${ca.cert}`), new NodeTlsUpgrader().trustAnchors())).toBe('SELF_SIGNED_CERT_IN_CHAIN');
  });
});
