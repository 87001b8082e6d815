/**
 * SPF record syntax (RFC 7208 section 12, macros section 7). A receiver checks the whole record
 * before it evaluates anything (section 4.6): one syntax error anywhere is a permerror, so the
 * parser reports every problem instead of stopping at the first.
 */
import ipaddr from 'ipaddr.js';

export type SpfQualifier = '+' | '-' | '~' | '?';
export type SpfMechanismName = 'all' | 'include' | 'a' | 'mx' | 'ptr' | 'ip4' | 'ip6' | 'exists';

export interface SpfMechanism {
  kind: 'mechanism';
  text: string;
  qualifier: SpfQualifier;
  /** Whether the qualifier was written (`+all` and `all` mean the same). */
  explicitQualifier: boolean;
  name: SpfMechanismName;
  /** include/exists/a/mx/ptr target as written (may hold macros); ip4/ip6 network. */
  value: string | null;
  cidr4: number | null;
  cidr6: number | null;
}

export interface SpfModifier {
  kind: 'modifier';
  text: string;
  name: string;
  value: string;
}

export type SpfTerm = SpfMechanism | SpfModifier;

export interface ParsedSpf {
  terms: SpfTerm[];
  /** Empty when the record is valid. */
  errors: string[];
}

/** Section 4.5: exactly `v=spf1`, or `v=spf1` followed by a space (`v=spf10` is not SPF). */
export function isSpfRecord(txt: string): boolean {
  return /^v=spf1( |$)/i.test(txt);
}

/** Mechanisms and the modifier that cost one DNS lookup each (section 4.6.4). */
export const LOOKUP_MECHANISMS: ReadonlySet<string> = new Set(['include', 'a', 'mx', 'ptr', 'exists']);

const MECHANISMS: ReadonlySet<string> = new Set(['all', 'include', 'a', 'mx', 'ptr', 'ip4', 'ip6', 'exists']);
const MACRO_LETTERS = 'slodiphv';
const EXP_ONLY_LETTERS = 'crt';
const DELIMITERS = '.-+,/_=';

export function parseSpf(record: string): ParsedSpf {
  const errors: string[] = [];
  const terms: SpfTerm[] = [];
  if (!isSpfRecord(record)) return { terms, errors: ['the record does not start with "v=spf1"'] };
  // Only SP separates terms (section 12: `1*SP`); a tab or other whitespace is part of a term.
  const rest = record.slice('v=spf1'.length);
  const parts = rest.split(' ').filter((p) => p !== '');
  let redirects = 0;
  let exps = 0;
  for (const part of parts) {
    const modifier = /^([a-z][a-z0-9_.-]*)=(.*)$/is.exec(part);
    if (modifier) {
      const name = modifier[1]!.toLowerCase();
      const value = modifier[2]!;
      terms.push({ kind: 'modifier', text: part, name, value });
      if (name === 'redirect' || name === 'exp') {
        if (name === 'redirect') redirects++;
        else exps++;
        const problem = checkDomainSpec(value);
        if (problem) errors.push(`"${part}": ${problem}`);
      } else {
        const problem = checkMacroString(value, false);
        if (problem) errors.push(`"${part}": ${problem}`);
      }
      continue;
    }
    const mechanism = parseMechanism(part);
    if (typeof mechanism === 'string') errors.push(mechanism);
    else terms.push(mechanism);
  }
  if (redirects > 1) errors.push(`${redirects} "redirect" modifiers (at most one is allowed)`);
  if (exps > 1) errors.push(`${exps} "exp" modifiers (at most one is allowed)`);
  return { terms, errors };
}

function parseMechanism(part: string): SpfMechanism | string {
  let text = part;
  let qualifier: SpfQualifier = '+';
  let explicitQualifier = false;
  if ('+-~?'.includes(text[0]!)) {
    qualifier = text[0] as SpfQualifier;
    explicitQualifier = true;
    text = text.slice(1);
  }
  const m = /^([a-z0-9]+)(.*)$/is.exec(text);
  const name = m?.[1]?.toLowerCase() ?? '';
  if (!m || !MECHANISMS.has(name)) return `"${part}" is not a known mechanism or a modifier`;
  const tail = m[2]!;
  const base = { kind: 'mechanism' as const, text: part, qualifier, explicitQualifier, name: name as SpfMechanismName, value: null, cidr4: null, cidr6: null };
  switch (name) {
    case 'all':
      return tail === '' ? base : `"${part}": "all" takes no argument`;
    case 'include':
    case 'exists': {
      if (!tail.startsWith(':') || tail.length === 1) return `"${part}": "${name}" needs ":" and a domain`;
      const value = tail.slice(1);
      const problem = checkDomainSpec(value);
      return problem ? `"${part}": ${problem}` : { ...base, value };
    }
    case 'ptr': {
      if (tail === '') return base;
      if (!tail.startsWith(':') || tail.length === 1) return `"${part}": expected "ptr" or "ptr:<domain>"`;
      const value = tail.slice(1);
      const problem = checkDomainSpec(value);
      return problem ? `"${part}": ${problem}` : { ...base, value };
    }
    case 'a':
    case 'mx': {
      let spec = tail;
      let cidrText = '';
      const slash = spec.indexOf('/');
      if (slash >= 0) {
        cidrText = spec.slice(slash);
        spec = spec.slice(0, slash);
      }
      let value: string | null = null;
      if (spec !== '') {
        if (!spec.startsWith(':') || spec.length === 1) return `"${part}": expected "${name}", "${name}:<domain>" or a prefix length`;
        value = spec.slice(1);
        const problem = checkDomainSpec(value);
        if (problem) return `"${part}": ${problem}`;
      }
      const cidr = parseDualCidr(cidrText);
      if (typeof cidr === 'string') return `"${part}": ${cidr}`;
      return { ...base, value, ...cidr };
    }
    case 'ip4': {
      if (!tail.startsWith(':')) return `"${part}": "ip4" needs ":" and an address`;
      const [addr, len, extra] = tail.slice(1).split('/');
      if (extra !== undefined) return `"${part}": more than one prefix length`;
      if (!addr || !ipaddr.IPv4.isValidFourPartDecimal(addr)) return `"${part}": "${addr ?? ''}" is not an IPv4 address`;
      const cidr4 = len === undefined ? null : cidrValue(len, 32);
      if (cidr4 === undefined) return `"${part}": "/${len}" is not a prefix length from 0 to 32`;
      return { ...base, value: addr, cidr4 };
    }
    case 'ip6': {
      if (!tail.startsWith(':')) return `"${part}": "ip6" needs ":" and an address`;
      const body = tail.slice(1);
      const slash = body.lastIndexOf('/');
      const addr = slash >= 0 ? body.slice(0, slash) : body;
      const len = slash >= 0 ? body.slice(slash + 1) : undefined;
      if (!ipaddr.IPv6.isValid(addr) || addr.includes('%')) return `"${part}": "${addr}" is not an IPv6 address`;
      const cidr6 = len === undefined ? null : cidrValue(len, 128);
      if (cidr6 === undefined) return `"${part}": "/${len}" is not a prefix length from 0 to 128`;
      return { ...base, value: addr, cidr6 };
    }
  }
  return `"${part}" is not a known mechanism`;
}

/** `/24`, `//64`, `/24//64`, or empty (section 12 dual-cidr-length). */
function parseDualCidr(text: string): { cidr4: number | null; cidr6: number | null } | string {
  if (text === '') return { cidr4: null, cidr6: null };
  const m = /^(?:\/([0-9]+))?(?:\/\/([0-9]+))?$/.exec(text);
  if (!m || (m[1] === undefined && m[2] === undefined)) return `"${text}" is not a prefix length ("/24", "//64" or "/24//64")`;
  const cidr4 = m[1] === undefined ? null : cidrValue(m[1], 32);
  const cidr6 = m[2] === undefined ? null : cidrValue(m[2], 128);
  if (cidr4 === undefined) return `"/${m[1]}" is not an IPv4 prefix length from 0 to 32`;
  if (cidr6 === undefined) return `"//${m[2]}" is not an IPv6 prefix length from 0 to 128`;
  return { cidr4, cidr6 };
}

/** The number, or undefined when it breaks the ABNF (no leading zero, within max). */
function cidrValue(text: string, max: number): number | undefined {
  if (!/^(0|[1-9][0-9]{0,2})$/.test(text)) return undefined;
  const n = Number(text);
  return n <= max ? n : undefined;
}

/**
 * macro-string (section 7.1): literals are visible ASCII but "%", and every "%" starts `%%`,
 * `%_`, `%-` or `%{letter digits [r] delimiters}`. The letters c, r and t only in `exp` text.
 */
export function checkMacroString(text: string, expText: boolean): string | null {
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c < 0x21 || c > 0x7e) return `it contains a character that is not allowed (code ${c})`;
    if (text[i] !== '%') continue;
    const next = text[i + 1];
    if (next === '%' || next === '_' || next === '-') {
      i++;
      continue;
    }
    if (next !== '{') return `"%" must start a macro ("%{d}") or be written "%%"`;
    const close = text.indexOf('}', i);
    if (close < 0) return 'a macro "%{" is not closed';
    const body = text.slice(i + 2, close);
    const m = /^([a-z])([0-9]*)(r?)(.*)$/i.exec(body);
    const letter = m?.[1]?.toLowerCase();
    if (!m || !letter || !(MACRO_LETTERS.includes(letter) || (expText && EXP_ONLY_LETTERS.includes(letter)))) {
      return `"%{${body}}" is not a valid macro${letter && EXP_ONLY_LETTERS.includes(letter) ? ` (the letter "${letter}" is allowed only in explanation text)` : ''}`;
    }
    if (m[2] && Number(m[2]) === 0) return `"%{${body}}": keeping 0 labels is not allowed`;
    if ([...m[4]!].some((d) => !DELIMITERS.includes(d))) return `"%{${body}}" has a delimiter outside ".-+,/_="`;
    i = close;
  }
  return null;
}

/** domain-spec = macro-string domain-end; domain-end = "." toplabel ["."] / macro-expand. */
export function checkDomainSpec(text: string): string | null {
  if (text === '') return 'the domain is empty';
  // Also for `exp=`: it names the domain whose TXT holds the text, so c/r/t are not allowed in the name itself.
  const macro = checkMacroString(text, false);
  if (macro) return macro;
  if (/%\{[a-z][0-9]*r?[.\-+,/_=]*\}$/i.test(text)) return null;
  const name = text.endsWith('.') ? text.slice(0, -1) : text;
  const dot = name.lastIndexOf('.');
  if (dot <= 0) return `"${text}" is not a fully qualified domain name`;
  const top = name.slice(dot + 1);
  const toplabel = /^(?:[a-z0-9]*[a-z][a-z0-9]*|[a-z0-9]+-[a-z0-9-]*[a-z0-9])$/i;
  if (!toplabel.test(top)) return `"${text}" does not end in a valid top-level label`;
  if (name.split('.').some((l) => l.length > 63)) return `"${text}" has a label longer than 63 characters`;
  return null;
}

/** Whether a domain-spec needs facts only a receiver has (the client address, the sender, the HELO name). */
export function needsMessage(spec: string): boolean {
  return /%\{[slihpv]/i.test(spec);
}

/**
 * Expands the macros a monitor can know (section 7.3): `d` is the domain whose record is being
 * evaluated (an include's target inside that include), `o` the sender's domain (the monitored
 * domain itself), plus `%%`, `%_`, `%-`. Call only when `needsMessage(spec)` is false.
 */
export function expandStaticMacros(spec: string, domain: string, senderDomain = domain): string {
  const out = spec.replace(/%(%|_|-|\{([a-z])([0-9]*)(r?)([.\-+,/_=]*)\})/gi, (_all, simple: string, letter?: string, digits?: string, reverse?: string, delims?: string) => {
    if (simple === '%') return '%';
    if (simple === '_') return ' ';
    if (simple === '-') return '%20';
    const value = letter!.toLowerCase() === 'd' ? domain : letter!.toLowerCase() === 'o' ? senderDomain : '';
    let parts = value.split(new RegExp(`[${escapeClass(delims || '.')}]`));
    if (reverse) parts = parts.reverse();
    if (digits) parts = parts.slice(-Number(digits));
    return parts.join('.');
  });
  return out.replace(/\.$/, '').toLowerCase();
}

function escapeClass(chars: string): string {
  return chars.replace(/[-\\\]^/]/g, '\\$&');
}
