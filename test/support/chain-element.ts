import { X509Certificate, createHash } from 'node:crypto';
import type { ChainElement } from '../../apps/mxwatch/src/probes/dane/dane-match.js';

const hex = (data: Buffer, alg: 'sha256' | 'sha512') => createHash(alg).update(data).digest('hex');

/**
 * What a starttls result says about one certificate (an element of its `chain`), computed the slow,
 * independent way (X509Certificate) from the PEM: the oracle the DANE specs build chains with.
 */
export function chainElement(pem: string): ChainElement {
  const x = new X509Certificate(pem);
  const spki = x.publicKey.export({ type: 'spki', format: 'der' });
  return {
    subject: x.subject,
    issuer: x.issuer,
    notBefore: new Date(x.validFrom).toISOString(),
    notAfter: new Date(x.validTo).toISOString(),
    certSha256: hex(x.raw, 'sha256'),
    certSha512: hex(x.raw, 'sha512'),
    spkiSha256: hex(spki, 'sha256'),
    spkiSha512: hex(spki, 'sha512'),
  };
}
