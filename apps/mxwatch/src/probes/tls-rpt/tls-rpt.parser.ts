import { chooseVersionedTxt } from '../versioned-txt.js';
/**
 * RFC 8460 section 3: the `_smtp._tls` TXT record. Senders discard records that do not begin
 * with `v=TLSRPTv1;` and need exactly one left, with a `rua` of `mailto:` or `https:` URIs.
 */

export type TlsRptVerdict =
  | { kind: 'missing' }
  | { kind: 'invalid'; problems: string[]; records: string[] }
  | { kind: 'valid'; record: string; rua: string[] };

const EXT_NAME = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,31}$/;
const EXT_VALUE = /^[\x21-\x3a\x3c\x3e-\x7e]+$/;

function uriProblem(uri: string): string | null {
  if (uri === '') return 'an empty URI in rua';
  const scheme = /^([A-Za-z][A-Za-z0-9+.-]*):/.exec(uri)?.[1]?.toLowerCase();
  if (scheme !== 'mailto' && scheme !== 'https') return `rua URI "${uri}" is neither mailto: nor https:`;
  let url: URL;
  try {
    url = new URL(uri);
  } catch {
    return `rua URI "${uri}" is not a URI`;
  }
  if (scheme === 'mailto' && !/^[^@\s]+@[^@\s]+\.[^@\s]+$/.test(decodeURIComponent(url.pathname))) return `rua URI "${uri}" names no mail address`;
  if (scheme === 'https' && !url.hostname) return `rua URI "${uri}" names no host`;
  return null;
}

export function parseTlsRptTxt(records: readonly string[]): TlsRptVerdict {
  const choice = chooseVersionedTxt(records, 'v=TLSRPTv1;', /^\s*v\s*=\s*tlsrpt/i);
  if (choice.kind !== 'one') return choice;
  const record = choice.record;
  const problems: string[] = [];
  let rua: string[] | null = null;
  const fields = record
    .slice('v=TLSRPTv1;'.length)
    .split(';')
    .map((f) => f.replace(/^[ \t]+|[ \t]+$/g, ''));
  if (fields.length && fields[fields.length - 1] === '') fields.pop();
  for (const field of fields) {
    const eq = field.indexOf('=');
    if (eq <= 0) {
      problems.push(`"${field}" is not a name=value field`);
      continue;
    }
    const name = field.slice(0, eq);
    const value = field.slice(eq + 1);
    if (name === 'rua') {
      if (rua !== null) continue;
      rua = value.split(',').map((u) => u.replace(/^[ \t]+|[ \t]+$/g, ''));
      for (const uri of rua) {
        const p = uriProblem(uri);
        if (p) problems.push(p);
      }
    } else if (!EXT_NAME.test(name) || !EXT_VALUE.test(value)) {
      problems.push(`"${field}" is not a valid extension field`);
    }
  }
  if (rua === null) problems.push('no rua field (where reports go)');
  if (problems.length || rua === null) return { kind: 'invalid', problems, records: [record] };
  return { kind: 'valid', record, rua };
}
