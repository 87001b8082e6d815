/**
 * DMARC record syntax (RFC 7489 section 6.3, with DMARCbis where it differs): a tag list whose
 * first tag is `v=DMARC1`. A trailing ";" is optional; unknown tags are ignored by receivers
 * (so they are information, not errors), and DMARCbis drops `pct`, `rf` and `ri`.
 */
export type DmarcPolicy = 'none' | 'quarantine' | 'reject';

export interface ParsedDmarc {
  tags: Record<string, string>;
  /** Problems that make receivers treat the record (or one tag of it) as invalid. */
  errors: string[];
  unknownTags: string[];
  deprecatedTags: string[];
  p: DmarcPolicy | null;
  sp: DmarcPolicy | null;
  np: DmarcPolicy | null;
  rua: DmarcReportUri[];
  ruf: DmarcReportUri[];
}

export interface DmarcReportUri {
  uri: string;
  /** The mailbox's domain (mailto: only). */
  host: string | null;
}

const POLICIES: ReadonlySet<string> = new Set(['none', 'quarantine', 'reject']);
const KNOWN = new Set(['v', 'p', 'sp', 'np', 'adkim', 'aspf', 'fo', 'rua', 'ruf', 'psd', 't', 'pct', 'rf', 'ri']);
const DEPRECATED = new Set(['pct', 'rf', 'ri']);

/** A DMARC record in the strict sense: its first tag is `v=DMARC1` (section 6.4). */
export function isDmarcRecord(txt: string): boolean {
  return /^v\s*=\s*DMARC1\s*(;|$)/.test(txt);
}

/** Looks like an attempt at a DMARC record that receivers will discard (`v` not first, `v=dmarc1`). */
export function looksLikeDmarc(txt: string): boolean {
  return !isDmarcRecord(txt) && /(^|;)\s*v\s*=\s*dmarc/i.test(txt);
}

export function parseDmarc(record: string): ParsedDmarc {
  const out: ParsedDmarc = { tags: {}, errors: [], unknownTags: [], deprecatedTags: [], p: null, sp: null, np: null, rua: [], ruf: [] };
  const parts = record.split(';').map((p) => p.trim());
  let first = true;
  for (const part of parts) {
    if (part === '') continue;
    const eq = part.indexOf('=');
    if (eq <= 0) {
      out.errors.push(`"${part}" is not a tag=value pair`);
      first = false;
      continue;
    }
    const name = part.slice(0, eq).trim().toLowerCase();
    const value = part.slice(eq + 1).trim();
    if (first && (name !== 'v' || value !== 'DMARC1')) out.errors.push('the record must start with "v=DMARC1"');
    first = false;
    if (!/^[a-z][a-z0-9_]*$/.test(name)) {
      out.errors.push(`"${part}": "${name}" is not a valid tag name`);
      continue;
    }
    if (name in out.tags) {
      out.errors.push(`the tag "${name}" appears twice`);
      continue;
    }
    out.tags[name] = value;
    if (!KNOWN.has(name)) {
      out.unknownTags.push(name);
      continue;
    }
    if (DEPRECATED.has(name)) out.deprecatedTags.push(name);
    const problem = checkTag(name, value, out);
    if (problem) out.errors.push(problem);
  }
  // RFC 7489 section 6.6.3 and DMARCbis: without p, a record with a usable rua is applied as p=none.
  if (!('p' in out.tags) && out.rua.length === 0) out.errors.push('the "p" tag is missing (and no rua makes the record usable without it)');
  return out;
}

function checkTag(name: string, value: string, out: ParsedDmarc): string | null {
  switch (name) {
    case 'v':
      return value === 'DMARC1' ? null : `"v=${value}": the version must be "DMARC1"`;
    case 'p':
    case 'sp':
    case 'np': {
      const v = value.toLowerCase();
      if (!POLICIES.has(v)) return `"${name}=${value}": must be none, quarantine or reject`;
      out[name] = v as DmarcPolicy;
      return null;
    }
    case 'adkim':
    case 'aspf':
      return /^[rs]$/i.test(value) ? null : `"${name}=${value}": must be r (relaxed) or s (strict)`;
    case 'fo':
      return /^[01ds](\s*:\s*[01ds])*$/i.test(value) ? null : `"fo=${value}": must be a ":"-separated list of 0, 1, d, s`;
    case 'psd':
      return /^[ynu]$/i.test(value) ? null : `"psd=${value}": must be y, n or u`;
    case 't':
      return /^[yn]$/i.test(value) ? null : `"t=${value}": must be y or n`;
    case 'pct': {
      if (!/^[0-9]{1,3}$/.test(value) || Number(value) > 100) return `"pct=${value}": must be a whole number from 0 to 100`;
      return null;
    }
    case 'ri':
      return /^[0-9]{1,10}$/.test(value) && Number(value) <= 0xffffffff ? null : `"ri=${value}": must be a number of seconds`;
    case 'rf':
      return value.split(':').every((f) => /^[a-z0-9-]+$/i.test(f.trim())) ? null : `"rf=${value}": must be a ":"-separated list of report formats`;
    case 'rua':
    case 'ruf': {
      const uris: DmarcReportUri[] = [];
      for (const raw of value.split(',').map((u) => u.trim())) {
        const parsed = parseReportUri(raw);
        if (typeof parsed === 'string') return `"${name}": ${parsed}`;
        uris.push(parsed);
      }
      out[name] = uris;
      return null;
    }
  }
  return null;
}

/** `mailto:reports@example.net!10m` (section 6.2: a size limit may follow "!"). */
function parseReportUri(raw: string): DmarcReportUri | string {
  if (raw === '') return 'an empty report address';
  const bang = raw.lastIndexOf('!');
  const uri = bang > 0 && /^[0-9]+[kmgt]?$/i.test(raw.slice(bang + 1)) ? raw.slice(0, bang) : raw;
  const scheme = /^([a-z][a-z0-9+.-]*):(.+)$/i.exec(uri);
  if (!scheme) return `"${raw}" is not a URI (expected mailto:address@domain)`;
  if (scheme[1]!.toLowerCase() !== 'mailto') return { uri: raw, host: null };
  const address = decodeURIComponentSafe(scheme[2]!.split('?')[0]!);
  const at = address.lastIndexOf('@');
  const host = at > 0 ? address.slice(at + 1).toLowerCase().replace(/\.$/, '') : '';
  if (!/^[a-z0-9_-]+(\.[a-z0-9_-]+)+$/i.test(host)) return `"${raw}" is not a mailto: URI with a domain`;
  return { uri: raw, host };
}

function decodeURIComponentSafe(s: string): string {
  try {
    return decodeURIComponent(s);
  } catch {
    return s;
  }
}
