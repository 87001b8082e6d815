import { chooseVersionedTxt } from '../versioned-txt.js';
/**
 * RFC 8461 grammar: the `_mta-sts` TXT record (section 3.1), the policy file (section 3.2) and
 * MX host matching (section 4.1). Pure functions, so every rule has a table test.
 */

export type StsMode = 'enforce' | 'testing' | 'none';

export type TxtVerdict =
  /** No record that looks like MTA-STS: the domain does not use it. */
  | { kind: 'missing' }
  | { kind: 'invalid'; problems: string[]; records: string[] }
  | { kind: 'valid'; id: string; record: string };

export interface StsPolicy {
  mode: StsMode;
  maxAge: number;
  /** As written (lower-cased, trailing dot removed), in order, duplicates kept once. */
  mx: string[];
}

export type PolicyVerdict = { ok: true; policy: StsPolicy } | { ok: false; problems: string[] };

/** RFC 8461 section 3.2: at most one year. */
export const MAX_AGE_LIMIT = 31_557_600;

const ID = /^[A-Za-z0-9]{1,32}$/;
const EXT_NAME = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,31}$/;
const EXT_VALUE = /^[\x21-\x3a\x3c\x3e-\x7e]+$/;

/**
 * Chooses the MTA-STS record among the TXT records at `_mta-sts.<domain>` and checks it.
 * Senders discard records that do not begin with `v=STSv1;` and need exactly one left. A record
 * that is plainly meant as MTA-STS but does not begin that way (`v=STSv1 ;`, `v=stsv1;`, no
 * fields at all) is reported as invalid rather than as missing: its owner thinks it is deployed.
 */
export function parseStsTxt(records: readonly string[]): TxtVerdict {
  const choice = chooseVersionedTxt(records, 'v=STSv1;', /^\s*v\s*=\s*stsv/i);
  if (choice.kind !== 'one') return choice;
  const record = choice.record;
  const problems: string[] = [];
  let id: string | null = null;
  // sts-field-delim is `*WSP ";" *WSP`; a trailing delimiter is allowed.
  const fields = record
    .slice('v=STSv1;'.length)
    .split(';')
    .map((f) => f.replace(/^[ \t]+|[ \t]+$/g, ''));
  if (fields.length && fields[fields.length - 1] === '') fields.pop();
  if (fields.length === 0) problems.push('no fields after "v=STSv1;"');
  for (const field of fields) {
    const eq = field.indexOf('=');
    if (eq <= 0) {
      problems.push(`"${field}" is not a name=value field`);
      continue;
    }
    const name = field.slice(0, eq);
    const value = field.slice(eq + 1);
    if (name === 'id') {
      if (!ID.test(value)) problems.push(`id "${value}" must be 1 to 32 letters or digits`);
      else id ??= value;
    } else if (!EXT_NAME.test(name) || !EXT_VALUE.test(value)) {
      problems.push(`"${field}" is not a valid extension field`);
    }
    // Other well-formed fields are extensions, which senders ignore.
  }
  if (id === null && !problems.some((p) => p.startsWith('id '))) problems.push('no id field');
  if (problems.length || id === null) return { kind: 'invalid', problems, records: [record] };
  return { kind: 'valid', id, record };
}

const LABEL = /^(?!-)[a-z0-9-]{1,63}(?<!-)$/;

function validHostPattern(p: string): boolean {
  const name = p.startsWith('*.') ? p.slice(2) : p;
  if (!name || name.length > 253) return false;
  const labels = name.split('.');
  return labels.length >= 1 && labels.every((l) => LABEL.test(l) || /^xn--[a-z0-9-]+$/.test(l));
}

/**
 * Parses a policy body (LF or CRLF lines, RFC 8461 section 3.2 and erratum 6253). Unknown keys
 * are ignored; a repeated key counts once, the first wins, except `mx`, which accumulates.
 */
export function parseStsPolicy(body: string): PolicyVerdict {
  const problems: string[] = [];
  const seen = new Map<string, string>();
  const mx: string[] = [];
  const lines = body.split('\n').map((l) => (l.endsWith('\r') ? l.slice(0, -1) : l));
  for (const [i, line] of lines.entries()) {
    const text = line.replace(/[ \t]+$/, '');
    if (text === '') continue;
    const m = /^([A-Za-z0-9][A-Za-z0-9_.-]{0,31}):[ \t]*(.*)$/.exec(text);
    if (!m) {
      problems.push(`line ${i + 1} "${text.slice(0, 80)}" is not "key: value"`);
      continue;
    }
    const key = m[1]!;
    const value = m[2]!;
    if (key === 'mx') {
      const pattern = value.toLowerCase().replace(/\.$/, '');
      if (!validHostPattern(pattern)) problems.push(`mx "${value}" is not a host name or a "*." pattern`);
      else if (!mx.includes(pattern)) mx.push(pattern);
      continue;
    }
    if (!seen.has(key)) seen.set(key, value);
  }
  const version = seen.get('version');
  if (version === undefined) problems.push('no "version" line');
  else if (version !== 'STSv1') problems.push(`version "${version}" is not "STSv1"`);
  const modeText = seen.get('mode');
  let mode: StsMode | null = null;
  if (modeText === undefined) problems.push('no "mode" line');
  else if (modeText === 'enforce' || modeText === 'testing' || modeText === 'none') mode = modeText;
  else problems.push(`mode "${modeText}" is not enforce, testing or none`);
  const ageText = seen.get('max_age');
  let maxAge: number | null = null;
  if (ageText === undefined) problems.push('no "max_age" line');
  else if (!/^\d{1,10}$/.test(ageText)) problems.push(`max_age "${ageText}" is not a number of seconds`);
  else if (Number(ageText) > MAX_AGE_LIMIT) problems.push(`max_age ${ageText} exceeds ${MAX_AGE_LIMIT} (one year)`);
  else maxAge = Number(ageText);
  if (mode !== null && mode !== 'none' && mx.length === 0) problems.push(`mode ${mode} needs at least one "mx" line`);
  if (problems.length || mode === null || maxAge === null) return { ok: false, problems };
  return { ok: true, policy: { mode, maxAge, mx } };
}

/**
 * RFC 8461 section 4.1: a `*.` pattern matches exactly one leftmost label. `*.example.net`
 * covers `mx1.example.net`, never `a.b.example.net` nor `example.net`.
 */
export function mxPatternMatches(pattern: string, host: string): boolean {
  const p = pattern.toLowerCase().replace(/\.$/, '');
  const h = host.toLowerCase().replace(/\.$/, '');
  if (!p.startsWith('*.')) return p === h;
  const dot = h.indexOf('.');
  if (dot <= 0) return false;
  return h.slice(dot + 1) === p.slice(2);
}

export function mxCovered(patterns: readonly string[], host: string): boolean {
  return patterns.some((p) => mxPatternMatches(p, host));
}

/** The media type without parameters, lower-cased (`Text/Plain; charset=utf-8` -> `text/plain`). */
export function mediaType(contentType: string | undefined): string | null {
  if (!contentType) return null;
  return contentType.split(';')[0]!.trim().toLowerCase() || null;
}
