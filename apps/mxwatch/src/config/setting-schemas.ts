/**
 * The zod pieces the settings table is built from. Each accepts what either source gives: a
 * string from the environment, or a YAML scalar/list. Messages are complete sentences after the
 * variable or YAML path, and never repeat a secret's value.
 */
import { accessSync, constants } from 'node:fs';
import path from 'node:path';
import ipaddr from 'ipaddr.js';
import { z } from 'zod';
import { normaliseDomainName } from '../transport/dns/dns-names.js';
import { parseCidrList } from '../transport/net/address-policy.js';
import { parsePortMap } from '../transport/net/net-dialer.js';

const show = (v: unknown): string => JSON.stringify(v) ?? String(v);

/** `"42"` (env) or `42` (YAML) → 42 within [min, max]. */
export function wholeNumber(min: number, max: number) {
  const range = { error: (iss: { input?: unknown }) => `must be between ${min} and ${max}, got ${show(iss.input)}` };
  return z.preprocess(
    (v) => (typeof v === 'string' && /^\s*-?\d+\s*$/.test(v) ? Number(v) : v),
    z
      .number({ error: (iss) => `must be a whole number, got ${show(iss.input)}` })
      .int({ error: (iss) => `must be a whole number, got ${show(iss.input)}` })
      .min(min, range)
      .max(max, range),
  );
}

const TRUE = ['true', '1', 'yes', 'on'];
const FALSE = ['false', '0', 'no', 'off'];

export const boolean = z.preprocess(
  (v) => {
    if (typeof v !== 'string') return v;
    const s = v.trim().toLowerCase();
    return TRUE.includes(s) ? true : FALSE.includes(s) ? false : v;
  },
  z.boolean({ error: (iss) => `must be true or false, got ${show(iss.input)}` }),
);

/**
 * `true`, `false` or `auto` (the program decides). Environment strings as for `boolean`; YAML
 * booleans as they are.
 */
export const autoBoolean = z.preprocess(
  (v) => {
    if (typeof v !== 'string') return v;
    const s = v.trim().toLowerCase();
    return s === 'auto' ? 'auto' : TRUE.includes(s) ? true : FALSE.includes(s) ? false : v;
  },
  z.union([z.literal('auto'), z.boolean()], { error: (iss) => `must be true, false or auto, got ${show(iss.input)}` }),
);

/** A non-empty string (numbers from YAML are taken as their text). */
export const text = z.preprocess(
  (v) => (typeof v === 'number' ? String(v) : v),
  z.string({ error: (iss) => `must be a string, got ${show(iss.input)}` }).trim().min(1, { error: 'must not be empty' }),
);

/** One of `values`, case-insensitively. */
export function oneOf<const T extends readonly [string, ...string[]]>(values: T) {
  return z.preprocess(
    (v) => (typeof v === 'string' ? v.trim().toLowerCase() : v),
    z.enum(values, { error: (iss) => `must be one of ${values.join(', ')}, got ${show(iss.input)}` }),
  );
}

/** A URL with one of `protocols`; the value is not echoed (database and Redis URLs carry passwords). */
export function url(protocols: readonly string[]) {
  return text.pipe(
    z.string().superRefine((s, ctx) => {
      let u: URL;
      try {
        u = new URL(s);
      } catch {
        ctx.addIssue({ code: 'custom', message: `must be a ${protocols.join(' or ')} URL` });
        return;
      }
      if (!protocols.includes(u.protocol)) ctx.addIssue({ code: 'custom', message: `must be a ${protocols.join(' or ')} URL, got ${u.protocol}` });
    }),
  );
}

/** A bearer token: long enough not to be guessed; never echoed. */
export const token = z.preprocess(
  (v) => (typeof v === 'number' ? String(v) : v),
  z.string({ error: 'must be a string' }).trim().min(1, { error: 'must not be empty' }).min(16, { error: 'must be at least 16 characters long' }),
);

/**
 * A comma list in the environment, a list (or comma string) in YAML. An empty list is a problem,
 * not "use the default": `MXWATCH_DNS_SERVERS=` is far more often a broken template than a wish.
 */
export function list<T extends z.ZodType>(item: T, what = 'value') {
  return z.preprocess(
    (v) => {
      if (Array.isArray(v)) return v.map((x) => (typeof x === 'string' ? x.trim() : typeof x === 'number' ? String(x) : x));
      if (typeof v === 'string' || typeof v === 'number') return String(v).split(',').map((s) => s.trim()).filter(Boolean);
      return v;
    },
    z
      .array(item, { error: (iss) => `must be a comma list or a YAML list, got ${show(iss.input)}` })
      .min(1, { error: `is empty: list at least one ${what}, or unset it to use the default` }),
  );
}

const HOST_PORT = /^(\[[0-9a-fA-F:.]+\]|[A-Za-z0-9.-]+)(?::(\d{1,5}))?$/;

/** A DNS server as `host` or `host:port` (`[v6]:port`). */
export const server = z.string().superRefine((s, ctx) => {
  const m = HOST_PORT.exec(s);
  if (!m || (m[2] !== undefined && (Number(m[2]) < 1 || Number(m[2]) > 65535))) {
    ctx.addIssue({ code: 'custom', message: `"${s}" is not host or host:port`, path: [] });
  }
});

/** `system` alone (the nameservers of /etc/resolv.conf), or a list of servers. */
export const servers = list(z.string(), 'server').pipe(
  z.array(z.string()).superRefine((items, ctx) => {
    const system = items.filter((s) => s.toLowerCase() === 'system');
    if (system.length > 0 && items.length > 1) {
      ctx.addIssue({ code: 'custom', message: '"system" (the nameservers of /etc/resolv.conf) cannot be combined with other servers' });
      return;
    }
    if (system.length > 0) return;
    for (const s of items) {
      const r = server.safeParse(s);
      if (!r.success) ctx.addIssue({ code: 'custom', message: r.error.issues[0]!.message });
    }
  }).transform((items) => (items.length === 1 && items[0]!.toLowerCase() === 'system' ? ['system'] : items)),
);

export const ports = list(wholeNumber(1, 65535), 'port').transform((p) => [...new Set(p)]);

/** A value one of the transport helpers parses; its error message is the problem. */
function parsedBy<T>(parse: (s: string) => T) {
  return z.string().transform((s, ctx) => {
    try {
      return parse(s);
    } catch (e) {
      ctx.addIssue({ code: 'custom', message: (e as Error).message });
      return z.NEVER;
    }
  });
}

export const portMap = list(z.string(), 'mapping').pipe(z.array(z.string()).transform((items) => items.join(',')).pipe(parsedBy(parsePortMap)));

export const cidrList = list(z.string(), 'range').pipe(
  z.array(z.string()).transform((items) => items.join(',')).pipe(
    parsedBy((s) => {
      parseCidrList(s);
      return s;
    }),
  ),
);

/** A readable file, resolved against the working directory. */
export function readableFile(cwd: string) {
  return text.pipe(
    z.string().transform((f, ctx) => {
      const file = path.resolve(cwd, f);
      try {
        accessSync(file, constants.R_OK);
      } catch {
        ctx.addIssue({ code: 'custom', message: `file ${file} does not exist or is not readable` });
        return z.NEVER;
      }
      return file;
    }),
  );
}

const LDH_LABEL = /^[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?$/;

/** RFC 5321 `Domain`: LDH labels; the name a client may announce in EHLO. */
export function isHostName(s: string): boolean {
  const name = s.endsWith('.') ? s.slice(0, -1) : s;
  return name.length > 0 && name.length <= 253 && name.split('.').every((l) => LDH_LABEL.test(l));
}

/**
 * The EHLO argument: a host name or an address literal (`[192.0.2.1]`, `[IPv6:2001:db8::1]`),
 * RFC 5321 §4.1.3. Anything else — spaces, CR/LF — would be sent to every MX as protocol text.
 */
export const ehloName = text.pipe(
  z.string().refine(
    (s) => {
      const literal = /^\[(IPv6:)?([^\]]+)\]$/i.exec(s);
      if (literal) return literal[1] ? ipaddr.IPv6.isValid(literal[2]!) : ipaddr.IPv4.isValidFourPartDecimal(literal[2]!);
      return isHostName(s);
    },
    { error: (iss) => `must be a host name (mail.example.com) or an address literal ([192.0.2.1]), got ${show(iss.input)}` },
  ),
);

/** The DNSSEC canary pair `<signed name>,<broken name>`; `.` is the root. */
export const dnssecCanary = list(z.string(), 'name').pipe(
  z
    .array(z.string())
    .superRefine((names, ctx) => {
      if (names.length !== 2) {
        ctx.addIssue({ code: 'custom', message: `must be "<signed name>,<broken name>", got ${show(names.join(','))}` });
        return;
      }
      for (const n of names) {
        if (n !== '.' && !isHostName(n)) ctx.addIssue({ code: 'custom', message: `"${n}" is not a DNS name` });
      }
    })
    .transform(([signed, broken]) => ({ signed: signed!.toLowerCase(), broken: broken!.toLowerCase() })),
);

/** Spamhaus DQS key: it becomes a DNS label (`<key>.zen.dq.spamhaus.net`); never echoed. */
export const dqsKey = z.preprocess(
  (v) => (typeof v === 'number' ? String(v) : v),
  z
    .string({ error: 'must be a string' })
    .trim()
    .regex(/^[A-Za-z0-9]{8,63}$/, { error: 'must be the key Spamhaus gave you (letters and digits only)' }),
);

/** A DNS domain name, normalised (lower case, no trailing dot, IDN as punycode). */
export const domainName = z.string({ error: 'must be a domain name (a string)' }).transform((s, ctx) => {
  const r = normaliseDomainName(s);
  if (!r.ok) {
    ctx.addIssue({ code: 'custom', message: `"${s}" is not a valid domain name: ${r.error}` });
    return z.NEVER;
  }
  return r.name;
});

export function isLoopbackHost(host: string): boolean {
  const bare = host.startsWith('[') && host.endsWith(']') ? host.slice(1, -1) : host;
  if (bare.toLowerCase() === 'localhost') return true;
  if (!ipaddr.isValid(bare)) return false;
  const addr = ipaddr.process(bare);
  return addr.range() === 'loopback';
}
