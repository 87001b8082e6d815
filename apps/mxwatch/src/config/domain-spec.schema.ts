/**
 * A domain entry of the YAML `domains:` list. The REST API has its own DTO (api/domain.dto.ts)
 * with the same rules and words; both lean on the same transport helpers for names and
 * addresses, so a domain the file accepts is one the API accepts.
 */
import { isDeepStrictEqual } from 'node:util';
import { z } from 'zod';
import { normaliseDomainName } from '../transport/dns/dns-names.js';
import { isIpLiteral } from '../transport/net/address-policy.js';
import { formatIssues } from './config-issues.js';
import type { ParseResult } from './notification-channels.js';
import type { DomainSpec } from './config.types.js';

export const MIN_INTERVAL_SECONDS = 30;
export const MAX_INTERVAL_SECONDS = 7 * 24 * 3600;
export const MAX_SUBMISSION_HOSTS = 20;
export const MAX_SENDING_IPS = 256;
export const MAX_DKIM_SELECTORS = 50;

const LABEL_KEY = /^[a-zA-Z_][a-zA-Z0-9_]{0,62}$/;
const LDH_LABEL = /^[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?$/;

const show = (v: unknown): string => JSON.stringify(v) ?? String(v);

function hostName(field: string) {
  return z.string({ error: `${field} must be a domain name (a string)` }).transform((s, ctx) => {
    const r = normaliseDomainName(s);
    if (!r.ok) {
      ctx.addIssue({ code: 'custom', message: `"${s}" is not a valid domain name: ${r.error}` });
      return z.NEVER;
    }
    return r.name;
  });
}

/**
 * A list of at most `max` items, unique as the REST API compares them (`key`; as written by
 * default, and duplicates that only normalising reveals are merged).
 */
function uniqueList<T extends z.ZodType>(item: T, field: string, what: string, max: number, key: (x: unknown) => unknown = (x) => x) {
  return z
    .array(z.unknown(), { error: `${field} must be a list of ${what}` })
    .max(max, { error: `${field} must contain no more than ${max} elements` })
    .refine((items) => new Set(items.map((x) => show(key(x)))).size === items.length, { error: `All ${field}'s elements must be unique` })
    .pipe(z.array(item));
}

/** RFC 6376 §3.1: a selector is one or more LDH labels (`s1`, `2024.brand`). */
const dkimSelector = z
  .string({ error: 'must be a DKIM selector (a string)' })
  .trim()
  .refine((s) => s.length > 0 && s.length <= 200 && s.split('.').every((l) => LDH_LABEL.test(l)), {
    error: (iss) => `${show(iss.input)} is not a DKIM selector: DNS labels of letters, digits and hyphens (s1, 2024.brand)`,
  })
  .transform((s) => s.toLowerCase());

const labels = z.unknown().superRefine((value, ctx) => {
  const fail = (message: string) => ctx.addIssue({ code: 'custom', message });
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return fail('must be an object of string values');
  const entries = Object.entries(value);
  if (entries.length > 32) return fail('at most 32 labels');
  for (const [k, v] of entries) {
    // Labels become Prometheus-style selectors for notifications: keep keys to the same alphabet.
    if (!LABEL_KEY.test(k)) return fail(`label name "${k}" must match ${LABEL_KEY.source}`);
    if (typeof v !== 'string') return fail(`label "${k}" must be a string`);
    if (v.length > 256) return fail(`label "${k}" is longer than 256 characters`);
  }
}) as z.ZodType<Record<string, string>>;

const entry = z.strictObject(
  {
    name: z.unknown().pipe(
      z.string({ error: (iss) => (iss.input === undefined ? 'name is required' : 'name must be a domain name (a string)') }).pipe(hostName('name')),
    ),
    intervalSeconds: z
      .number({ error: 'intervalSeconds must be a whole number of seconds' })
      .int({ error: 'intervalSeconds must be a whole number of seconds' })
      .min(MIN_INTERVAL_SECONDS, { error: `intervalSeconds must be at least ${MIN_INTERVAL_SECONDS}` })
      .max(MAX_INTERVAL_SECONDS, { error: `intervalSeconds must be at most ${MAX_INTERVAL_SECONDS} (a week)` })
      .nullable()
      .optional(),
    submissionHosts: uniqueList(hostName('submissionHosts'), 'submissionHosts', 'host names', MAX_SUBMISSION_HOSTS).optional(),
    sendingIps: uniqueList(
      z.string({ error: (iss) => `${show(iss.input)} is not an IPv4 or IPv6 address` }).refine((s) => isIpLiteral(s) && !s.startsWith('['), {
        error: (iss) => `${show(iss.input)} is not an IPv4 or IPv6 address`,
      }),
      'sendingIps',
      'IP addresses',
      MAX_SENDING_IPS,
    ).optional(),
    labels: labels.optional(),
    enabled: z.boolean({ error: 'enabled must be true or false' }).optional(),
    // Selectors are case-insensitive DNS labels: `S1` and `s1` are the same selector.
    dkimSelectors: uniqueList(dkimSelector, 'dkimSelectors', 'DKIM selectors', MAX_DKIM_SELECTORS, (x) => (typeof x === 'string' ? x.toLowerCase() : x)).optional(),
  },
  { error: (iss) => (iss.code === 'unrecognized_keys' ? 'property {key} should not exist' : undefined) },
);

/** One entry: a bare name, or a mapping with `name`. Normalised as the database stores it. */
export const domainEntrySchema = z
  .preprocess((v) => (typeof v === 'string' ? { name: v } : v), z.unknown())
  .pipe(
    z.custom<object>((v) => typeof v === 'object' && v !== null && !Array.isArray(v), { error: 'must be a domain name or a mapping with name' }).pipe(entry),
  )
  .transform(
    (d): Required<DomainSpec> => ({
      name: d.name,
      intervalSeconds: d.intervalSeconds ?? null,
      submissionHosts: [...new Set(d.submissionHosts ?? [])],
      sendingIps: [...new Set(d.sendingIps ?? [])],
      labels: d.labels ?? {},
      enabled: d.enabled ?? true,
      dkimSelectors: [...new Set(d.dkimSelectors ?? [])],
    }),
  );

/**
 * The `domains:` section. `null` (the key absent) means the file does not manage domains; an
 * empty section manages none. A name listed twice is fine only when both entries agree.
 */
export function parseDomains(raw: unknown, root = 'domains'): ParseResult<DomainSpec[]> {
  if (raw === null) return { ok: true, value: [] };
  if (!Array.isArray(raw)) return { ok: false, problems: [`${root}: must be a list`] };
  const problems: string[] = [];
  const out: DomainSpec[] = [];
  raw.forEach((item, i) => {
    const at = `${root}[${i}]`;
    const r = domainEntrySchema.safeParse(item);
    if (!r.success) {
      problems.push(...formatIssues(r.error.issues, at));
      return;
    }
    const previous = out.find((d) => d.name === r.data.name);
    if (!previous) out.push(r.data);
    else if (!isDeepStrictEqual(previous, r.data)) problems.push(`${at}.name: ${r.data.name} is listed twice`);
  });
  return problems.length > 0 ? { ok: false, problems } : { ok: true, value: out };
}
