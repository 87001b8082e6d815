import { X509Certificate, createHash } from 'node:crypto';
import type { AddressInfo } from 'node:net';
import tls, { type DetailedPeerCertificate } from 'node:tls';
import { generate } from 'selfsigned';
import { describe, expect, it } from 'vitest';
import { createSelfSigned, createTestCa } from '../../../../../test/rig/tls/test-ca.js';
import { certificateFacts, chainFacts, nameText, spkiOf } from './certificate-facts.js';

/** What a client sees: the detailed peer certificate of a real handshake with a server presenting `cert`. */
async function presented(key: string, cert: string, ca?: string): Promise<DetailedPeerCertificate> {
  const server = tls.createServer({ key, cert }, (s) => s.on('error', () => undefined));
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  try {
    const socket = tls.connect({ host: '127.0.0.1', port: (server.address() as AddressInfo).port, rejectUnauthorized: false, ...(ca ? { ca: [ca] } : {}) });
    await new Promise((resolve, reject) => socket.once('secureConnect', resolve).once('error', reject));
    const peer = socket.getPeerCertificate(true);
    socket.destroy();
    return peer;
  } finally {
    server.close();
  }
}

/** The facts as X509Certificate states them: the reference the parsed form must match. */
function reference(peer: DetailedPeerCertificate) {
  const chain = [];
  const seen = new Set<string>();
  for (let c: DetailedPeerCertificate | undefined = peer; c?.raw && !seen.has(c.fingerprint256); c = c.issuerCertificate) {
    seen.add(c.fingerprint256);
    const x = new X509Certificate(c.raw);
    const spki = x.publicKey.export({ type: 'spki', format: 'der' });
    const hex = (alg: string, b: Uint8Array) => createHash(alg).update(b).digest('hex');
    chain.push({
      subject: x.subject.split('\n').join(', '),
      issuer: x.issuer.split('\n').join(', '),
      notBefore: new Date(x.validFrom).toISOString(),
      notAfter: new Date(x.validTo).toISOString(),
      certSha256: hex('sha256', c.raw),
      certSha512: hex('sha512', c.raw),
      spkiSha256: hex('sha256', spki),
      spkiSha512: hex('sha512', spki),
    });
    if (c.issuerCertificate === c) break;
  }
  const x = new X509Certificate(peer.raw);
  return {
    cert: {
      subject: x.subject.split('\n').join(', '),
      sans: (x.subjectAltName ?? '').split(/,\s*/).filter(Boolean).map((s) => s.replace(/^IP Address:/, 'IP:')),
      issuer: x.issuer.split('\n').join(', '),
      notBefore: new Date(x.validFrom).toISOString(),
      notAfter: new Date(x.validTo).toISOString(),
      fingerprint256: x.fingerprint256,
    },
    chain,
  };
}

describe('certificate facts', () => {
  const now = new Date();

  it.each(['ec', 'rsa'] as const)('should state a %s leaf and its chain exactly as X509Certificate does', async (keyType) => {
    const ca = await createTestCa({ commonName: 'Fleet Test CA', keyType });
    const leaf = await ca.issue({ commonName: 'mx.fleet.test', altNames: ['mx.fleet.test', '*.mx.fleet.test', '192.0.2.25'] });
    const peer = await presented(leaf.key, leaf.chain, ca.cert);
    const want = reference(peer);
    expect(chainFacts(peer)).toEqual(want.chain);
    expect(chainFacts(peer).length).toBeGreaterThanOrEqual(2);
    expect(certificateFacts(peer, now)).toEqual({ ...want.cert, daysLeft: Math.floor((Date.parse(want.cert.notAfter) - now.getTime()) / 86_400_000) });
  });

  it('should share the facts of a certificate seen before, frozen, each time with its own days left', async () => {
    const ca = await createTestCa({ commonName: 'Shared Test CA' });
    const leaf = await ca.issue({ commonName: 'mx.shared.test', altNames: ['mx.shared.test'] });
    const a = await presented(leaf.key, leaf.chain, ca.cert);
    const b = await presented(leaf.key, leaf.chain, ca.cert);
    expect(a).not.toBe(b);
    // Two sessions, one certificate: the same chain entries and strings, which nothing may change.
    const [chainA, chainB] = [chainFacts(a), chainFacts(b)];
    expect(chainB[0]).toBe(chainA[0]);
    expect(Object.isFrozen(chainA[0])).toBe(true);
    const later = new Date(now.getTime() + 10 * 86_400_000);
    const [factsA, factsB] = [certificateFacts(a, now)!, certificateFacts(b, later)!];
    expect(factsB.sans).toBe(factsA.sans);
    expect(() => factsA.sans.push('evil.test')).toThrow(TypeError);
    expect(factsA.daysLeft - factsB.daysLeft).toBe(10);
    // Another certificate is not taken for it.
    const other = await ca.issue({ commonName: 'mx2.shared.test', altNames: ['mx2.shared.test'] });
    expect(certificateFacts(await presented(other.key, other.chain, ca.cert), now)!.subject).toBe('CN=mx2.shared.test');
  });

  it('should state a subject of several attributes, and names OpenSSL escapes, exactly as X509Certificate does', async () => {
    for (const attrs of [
      [
        { name: 'countryName', value: 'DE' },
        { name: 'organizationName', value: 'Fleet Mail GmbH' },
        { name: 'commonName', value: 'mail.fleet.test' },
      ],
      // selfsigned reads the names as RFC 4514 text: the backslashes are its escapes, not part of the value.
      [{ name: 'commonName', value: 'Fleet\\, Inc. \\"mail\\" \\+ more' }],
      [{ name: 'commonName', value: '\\ leading and trailing\\ ' }],
      [
        { shortName: 'OU', value: 'one' },
        { shortName: 'OU', value: 'two' },
        { name: 'commonName', value: 'mx.fleet.test' },
      ],
    ]) {
      const pems = await generate(attrs, { algorithm: 'sha256', keyType: 'ec' });
      const peer = await presented(pems.private, pems.cert);
      const want = reference(peer);
      expect(chainFacts(peer)).toEqual(want.chain);
      expect(certificateFacts(peer, now)).toMatchObject(want.cert);
    }
  });

  it('should read no name from the object form when OpenSSL would write it differently', () => {
    expect(nameText({ CN: 'a.test', O: 'Org' } as never)).toBe('CN=a.test, O=Org');
    expect(nameText({ CN: 'a, b' } as never)).toBeNull();
    expect(nameText({ OU: ['one', 'two'] } as never)).toBeNull();
    expect(nameText({ CN: 'tab\there' } as never)).toBeNull();
    expect(nameText(undefined)).toBeNull();
  });

  it('should find the SubjectPublicKeyInfo a certificate carries, and nothing in what is not one', async () => {
    const { cert } = await createSelfSigned({ commonName: 'spki.test' });
    const x = new X509Certificate(cert);
    expect(Buffer.from(spkiOf(x.raw)!)).toEqual(x.publicKey.export({ type: 'spki', format: 'der' }));
    expect(spkiOf(Buffer.from('not a certificate'))).toBeNull();
    expect(spkiOf(x.raw.subarray(0, 40))).toBeNull();
  });
});
