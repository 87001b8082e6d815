import { once } from 'node:events';
import type { AddressInfo } from 'node:net';
import { connect, createServer, type TLSSocket } from 'node:tls';
import { describe, expect, it } from 'vitest';
import { createSelfSigned, createTestCa, describeCertificate, type TestKeyPair } from './test-ca.js';

/** Serves `pair` on 127.0.0.1 and reports how a client trusting `ca` sees it. */
async function handshake(pair: TestKeyPair, options: { ca?: string; servername?: string } = {}): Promise<{ authorized: boolean; error: string | null }> {
  const server = createServer({ key: pair.key, cert: pair.cert }, (s) => s.end());
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  try {
    const socket: TLSSocket = connect({ host: '127.0.0.1', port: (server.address() as AddressInfo).port, ca: options.ca, servername: options.servername, rejectUnauthorized: false });
    await once(socket, 'secureConnect');
    const result = { authorized: socket.authorized, error: socket.authorizationError ? String(socket.authorizationError) : null };
    socket.destroy();
    return result;
  } finally {
    server.close();
  }
}

describe(createTestCa.name, () => {
  it('should issue leaf certificates a client trusting the CA accepts, for DNS names and IPs', async () => {
    const ca = await createTestCa();
    const leaf = await ca.issue({ commonName: 'mx.example.test', altNames: ['mx.example.test', '127.0.0.1'] });
    expect(describeCertificate(leaf.cert)).toMatchObject({ subject: 'CN=mx.example.test', issuer: 'CN=mxwatch test CA', subjectAltName: 'DNS:mx.example.test, IP Address:127.0.0.1' });
    await expect(handshake(leaf, { ca: ca.cert, servername: 'mx.example.test' })).resolves.toEqual({ authorized: true, error: null });
    expect(leaf.chain).toContain(ca.cert);
  });

  it('should issue expired and not-yet-valid certificates on request', async () => {
    const ca = await createTestCa();
    const expired = await ca.issue({ commonName: 'old.test', notBefore: new Date('2020-01-01'), notAfter: new Date('2021-01-01') });
    expect(describeCertificate(expired.cert).validTo.toISOString()).toBe('2021-01-01T00:00:00.000Z');
    await expect(handshake(expired, { ca: ca.cert, servername: 'old.test' })).resolves.toEqual({ authorized: false, error: 'CERT_HAS_EXPIRED' });
    const future = await ca.issue({ commonName: 'new.test', notBefore: new Date(Date.now() + 86_400_000 * 30) });
    await expect(handshake(future, { ca: ca.cert, servername: 'new.test' })).resolves.toEqual({ authorized: false, error: 'CERT_NOT_YET_VALID' });
  });

  it('should give certificates a client without the CA refuses', async () => {
    const ca = await createTestCa();
    const leaf = await ca.issue({ commonName: 'mx.example.test' });
    await expect(handshake(leaf, { servername: 'mx.example.test' })).resolves.toEqual({ authorized: false, error: 'UNABLE_TO_VERIFY_LEAF_SIGNATURE' });
  });

  it('should support EC keys', async () => {
    const ca = await createTestCa({ keyType: 'ec' });
    const leaf = await ca.issue({ commonName: 'ec.test' });
    await expect(handshake(leaf, { ca: ca.cert, servername: 'ec.test' })).resolves.toEqual({ authorized: true, error: null });
  });
});

describe(createSelfSigned.name, () => {
  it('should create a self-signed certificate that verification reports as such', async () => {
    const pair = await createSelfSigned({ commonName: 'self.test' });
    expect(describeCertificate(pair.cert)).toMatchObject({ subject: 'CN=self.test', issuer: 'CN=self.test' });
    await expect(handshake(pair, { servername: 'self.test' })).resolves.toEqual({ authorized: false, error: 'DEPTH_ZERO_SELF_SIGNED_CERT' });
  });
});
