/**
 * Certificates for the hermetic test rig (DoH over HTTPS, SMTP STARTTLS / implicit TLS).
 *
 * Built on selfsigned 5.5, which signs with a CA key when given `ca`. Two of its traps are
 * handled here: its default algorithm is sha1 (rejected by OpenSSL 3 at the default
 * security level), so `sha256` is always passed; and it imports the CA key with the LEAF's
 * key type, so a CA and the leaves it issues always share one key type.
 */
import { isIP } from 'node:net';
import { X509Certificate } from 'node:crypto';
import { generate } from 'selfsigned';

export type TestKeyType = 'rsa' | 'ec';

export interface TestKeyPair {
  /** PEM private key (PKCS#8). */
  key: string;
  /** PEM certificate. */
  cert: string;
}

export interface IssueOptions {
  commonName: string;
  /** DNS names or IP literals; defaults to `[commonName]`. An IP literal becomes an IP SAN. */
  altNames?: string[];
  /** Default: one day ago, so a freshly issued certificate is valid whatever the clock skew. */
  notBefore?: Date;
  /** Default: notBefore + 365 days. A date in the past gives an expired certificate. */
  notAfter?: Date;
}

export interface SelfSignedOptions extends IssueOptions {
  keyType?: TestKeyType;
}

export interface TestCa extends TestKeyPair {
  readonly keyType: TestKeyType;
  /** A leaf certificate signed by this CA, with the CA appended as `chain` for servers that serve it. */
  issue(options: IssueOptions): Promise<TestKeyPair & { chain: string }>;
}

const DAY_MS = 86_400_000;

function sanEntries(names: string[]): Array<{ type: 2 | 7; value?: string; ip?: string }> {
  return names.map((n) => (isIP(n) ? { type: 7 as const, ip: n } : { type: 2 as const, value: n }));
}

function validity(options: IssueOptions): { notBeforeDate: Date; notAfterDate: Date } {
  const notBeforeDate = options.notBefore ?? new Date(Date.now() - DAY_MS);
  const notAfterDate = options.notAfter ?? new Date(notBeforeDate.getTime() + 365 * DAY_MS);
  return { notBeforeDate, notAfterDate };
}

function leafExtensions(names: string[]) {
  return [
    { name: 'basicConstraints' as const, cA: false, critical: true },
    { name: 'keyUsage' as const, digitalSignature: true, keyEncipherment: true, critical: true },
    { name: 'extKeyUsage' as const, serverAuth: true, clientAuth: true },
    { name: 'subjectAltName' as const, altNames: sanEntries(names) },
  ];
}

/** Creates a throwaway CA. Trust it in a client with `ca: testCa.cert`. */
export async function createTestCa(options: { commonName?: string; keyType?: TestKeyType; notBefore?: Date; notAfter?: Date } = {}): Promise<TestCa> {
  const keyType = options.keyType ?? 'rsa';
  const { notBeforeDate, notAfterDate } = validity({ commonName: '', notBefore: options.notBefore, notAfter: options.notAfter });
  const pems = await generate([{ name: 'commonName', value: options.commonName ?? 'mxwatch test CA' }], {
    algorithm: 'sha256',
    keyType,
    notBeforeDate,
    notAfterDate,
    extensions: [
      { name: 'basicConstraints', cA: true, critical: true },
      { name: 'keyUsage', keyCertSign: true, cRLSign: true, digitalSignature: true, critical: true },
    ],
  });
  const ca: TestKeyPair = { key: pems.private, cert: pems.cert };
  return {
    ...ca,
    keyType,
    async issue(issue: IssueOptions) {
      const names = issue.altNames ?? [issue.commonName];
      const leaf = await generate([{ name: 'commonName', value: issue.commonName }], {
        algorithm: 'sha256',
        keyType,
        ...validity(issue),
        extensions: leafExtensions(names),
        ca,
      });
      return { key: leaf.private, cert: leaf.cert, chain: `${leaf.cert.trimEnd()}\n${ca.cert}` };
    },
  };
}

/** A certificate signed by its own key: what "self-signed" means to a verifying client. */
export async function createSelfSigned(options: SelfSignedOptions): Promise<TestKeyPair> {
  const names = options.altNames ?? [options.commonName];
  const pems = await generate([{ name: 'commonName', value: options.commonName }], {
    algorithm: 'sha256',
    keyType: options.keyType ?? 'rsa',
    ...validity(options),
    extensions: leafExtensions(names),
  });
  return { key: pems.private, cert: pems.cert };
}

/** Reads back what a test wants to assert about a PEM certificate. */
export function describeCertificate(pem: string): { subject: string; issuer: string; subjectAltName: string | undefined; validFrom: Date; validTo: Date } {
  const x = new X509Certificate(pem);
  return { subject: x.subject, issuer: x.issuer, subjectAltName: x.subjectAltName, validFrom: new Date(x.validFrom), validTo: new Date(x.validTo) };
}
