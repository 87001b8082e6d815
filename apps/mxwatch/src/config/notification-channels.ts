/**
 * Notification channels as the YAML `notifications:` list declares them: their types (which
 * notifications/ imports) and the schema that validates them. Channel code lives in
 * notifications/; what a valid channel is lives here, beside every other setting.
 */
import { z } from 'zod';
import { formatIssues } from './config-issues.js';

/** The finding severities, most severe first (the same three findings/ defines). */
export const CHANNEL_SEVERITIES = ['critical', 'warning', 'info'] as const;
export type ChannelSeverity = (typeof CHANNEL_SEVERITIES)[number];

interface ChannelFilter {
  /** Notify only for findings at or above this severity (critical > warning > info). */
  minSeverity?: ChannelSeverity;
  /** Notify only for domains that carry every one of these labels with the same value. */
  labels?: Record<string, string>;
}

export interface WebhookChannelConfig extends ChannelFilter {
  type: 'webhook';
  name: string;
  url: string;
  /** When set, bodies are signed: see webhook.notifier.ts for how a receiver verifies. */
  secret?: string;
}

export interface SlackChannelConfig extends ChannelFilter {
  type: 'slack';
  name: string;
  /** Incoming-webhook URL (Slack, Mattermost, Rocket.Chat). It is a credential: never logged. */
  url: string;
}

export interface SmtpRelayConfig {
  host: string;
  port: number;
  /** Implicit TLS from the first byte (port 465). `false` still upgrades with STARTTLS when offered. */
  secure?: boolean;
  user?: string;
  pass?: string;
  /** `false` accepts self-signed relay certificates; only for a relay on a trusted network. */
  rejectUnauthorized?: boolean;
  /** Refuse to send unless STARTTLS succeeds. Implied whenever credentials are set (see allowInsecureAuth). */
  requireTLS?: boolean;
  /** Never attempt STARTTLS; for a plain-text relay on localhost (and tests). */
  ignoreTLS?: boolean;
  /**
   * Let credentials go out without TLS. Off by default: a relay that does not offer STARTTLS (or
   * an attacker who strips it) would otherwise receive the password in clear text.
   */
  allowInsecureAuth?: boolean;
}

export interface EmailChannelConfig extends ChannelFilter {
  type: 'email';
  name: string;
  to: string[];
  /** `alerts@example.com` or `mxwatch <alerts@example.com>`. */
  from: string;
  smtp: SmtpRelayConfig;
}

export type ChannelConfig = WebhookChannelConfig | SlackChannelConfig | EmailChannelConfig;
export type ChannelType = ChannelConfig['type'];
export const CHANNEL_TYPES: readonly ChannelType[] = ['webhook', 'slack', 'email'];

// ---------------------------------------------------------------------------------------------
// Schema
// ---------------------------------------------------------------------------------------------

const NON_EMPTY = 'must be a non-empty string';
const HTTP_URL = 'must be an http(s) URL';
const TO = 'must be an email address or a non-empty list of them';
const FROM = 'must be an email address, optionally with a display name ("mxwatch <alerts@example.com>")';
const PORT = 'must be an integer between 1 and 65535';
const FLAG = 'must be true or false';

// Deliberately loose: the relay is the authority on addresses; this catches typos and YAML slips.
const ADDRESS = /^[^\s@<>",;]+@[^\s@<>",;]+$/;

function isMailbox(value: string): boolean {
  const trimmed = value.trim();
  const named = /^[^<>]*<([^<>]+)>$/.exec(trimmed);
  return ADDRESS.test(named ? named[1]!.trim() : trimmed);
}

function isHttpUrl(value: string): boolean {
  try {
    const u = new URL(value);
    return (u.protocol === 'http:' || u.protocol === 'https:') && u.hostname !== '';
  } catch {
    return false;
  }
}

const name = z.string({ error: NON_EMPTY }).refine((s) => s.trim() !== '', { error: NON_EMPTY });
const httpUrl = z.string({ error: HTTP_URL }).refine(isHttpUrl, { error: HTTP_URL });
const flag = z.boolean({ error: FLAG }).optional();

const filter = {
  minSeverity: z.enum(CHANNEL_SEVERITIES, { error: `must be one of ${CHANNEL_SEVERITIES.join(', ')}` }).optional(),
  // YAML reads `tier: 1` as a number; domain labels are strings, so it would never match.
  labels: z
    .record(z.string(), z.string({ error: 'must be a string (quote it in YAML)' }), { error: 'must be a mapping of label names to strings' })
    .optional(),
};

/** A strict mapping whose unknown keys are named with the keys allowed. */
function channel<S extends z.core.$ZodLooseShape>(type: ChannelType, shape: S) {
  const full = { type: z.literal(type), name, ...filter, ...shape };
  const article = type === 'email' ? 'an' : 'a';
  return z.strictObject(full, {
    error: (iss) =>
      iss.code === 'unrecognized_keys' ? `unknown key for ${article} ${type} channel (allowed: ${Object.keys(full).join(', ')})` : undefined,
  });
}

const SMTP_SHAPE = {
  host: z.string({ error: NON_EMPTY }).trim().min(1, { error: NON_EMPTY }),
  port: z.number({ error: PORT }).int({ error: PORT }).min(1, { error: PORT }).max(65535, { error: PORT }).optional(),
  secure: flag,
  user: z.string({ error: NON_EMPTY }).min(1, { error: NON_EMPTY }).optional(),
  pass: z.string({ error: 'must be a string' }).optional(),
  rejectUnauthorized: flag,
  requireTLS: flag,
  ignoreTLS: flag,
  allowInsecureAuth: flag,
};

const smtp = z
  .strictObject(SMTP_SHAPE, {
    error: (iss) =>
      iss.code === 'unrecognized_keys' ? `unknown key (allowed: ${Object.keys(SMTP_SHAPE).join(', ')})` : 'must be a mapping with at least host',
  })
  .superRefine(
    (raw, ctx) => {
      // Runs even when a field is invalid, so every problem is reported at once: read defensively.
      const r = raw as Record<string, unknown>;
      if (r.user !== undefined && r.pass === undefined && typeof r.user === 'string' && r.user !== '') {
        ctx.addIssue({ code: 'custom', path: ['pass'], message: 'must be set when {parent}.user is' });
      }
      if (typeof r.pass === 'string' && r.user === undefined) {
        ctx.addIssue({ code: 'custom', path: ['user'], message: 'must be set when {parent}.pass is' });
      }
      if (r.requireTLS === true && r.ignoreTLS === true) {
        ctx.addIssue({ code: 'custom', path: ['ignoreTLS'], message: 'cannot be combined with requireTLS' });
      } else if (r.ignoreTLS === true && r.user !== undefined && r.secure !== true && r.allowInsecureAuth !== true) {
        ctx.addIssue({
          code: 'custom',
          path: ['ignoreTLS'],
          message: 'would send the relay password in clear text; set allowInsecureAuth: true only for a relay on a trusted network',
        });
      }
    },
    { when: (p) => typeof p.value === 'object' && p.value !== null && !Array.isArray(p.value) },
  )
  .transform((s): SmtpRelayConfig => {
    const out: SmtpRelayConfig = { host: s.host, port: s.port ?? (s.secure ? 465 : 587) };
    for (const key of ['secure', 'user', 'pass', 'rejectUnauthorized', 'requireTLS', 'ignoreTLS', 'allowInsecureAuth'] as const) {
      if (s[key] !== undefined) (out as unknown as Record<string, unknown>)[key] = s[key];
    }
    return out;
  });

const webhook = channel('webhook', {
  url: httpUrl,
  secret: z.string({ error: NON_EMPTY }).min(1, { error: NON_EMPTY }).optional(),
});

const slack = channel('slack', { url: httpUrl });

const email = channel('email', {
  to: z.preprocess(
    (v) => (typeof v === 'string' ? [v] : v),
    z
      .array(
        z
          .string({ error: 'must be an email address' })
          .trim()
          .regex(ADDRESS, { error: 'must be an email address' }),
        { error: TO },
      )
      .min(1, { error: TO }),
  ),
  from: z
    .string({ error: FROM })
    .refine(isMailbox, { error: FROM })
    .transform((s) => s.trim()),
  smtp,
});

function withoutUndefined<T extends object>(o: T): T {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as T;
}

/** One channel; a type it does not know leaves the other keys unjudged. */
export const channelSchema = z
  .discriminatedUnion('type', [webhook, slack, email], {
    error: (iss) => ((iss as { code: string }).code === 'invalid_type' ? 'must be a mapping' : `must be one of ${CHANNEL_TYPES.join(', ')}`),
  })
  .transform((c) => withoutUndefined(c) as ChannelConfig);

/** The whole list; channel names are unique because the attempt log is keyed by them. */
export const channelListSchema = z
  .array(channelSchema, { error: 'must be a list' })
  .superRefine(
    (items, ctx) => {
      const seen = new Map<string, number>();
      (items as unknown[]).forEach((item, i) => {
        const n = typeof item === 'object' && item !== null ? (item as { name?: unknown }).name : undefined;
        if (typeof n !== 'string' || n.trim() === '') return;
        const first = seen.get(n);
        if (first === undefined) seen.set(n, i);
        else ctx.addIssue({ code: 'custom', path: [i, 'name'], message: `"${n}" is already used by {root}[${first}]` });
      });
    },
    { when: (p) => Array.isArray(p.value) },
  );

export type ParseResult<T> = { ok: true; value: T } | { ok: false; problems: string[] };

/**
 * Validates a channel list. Problems come per item in list order (duplicates where they occur),
 * each prefixed with its path under `root`.
 */
export function parseChannels(raw: unknown, root = 'notifications'): ParseResult<ChannelConfig[]> {
  if (raw === undefined || raw === null) return { ok: true, value: [] };
  const r = channelListSchema.safeParse(raw);
  if (r.success) return { ok: true, value: r.data };
  const issues = [...r.error.issues].sort((a, b) => itemIndex(a.path) - itemIndex(b.path));
  return { ok: false, problems: formatIssues(issues, root) };
}

/** Validates one channel at `root` (an item path such as `notifications[1]`). */
export function parseChannel(raw: unknown, root: string): ParseResult<ChannelConfig> {
  const r = channelSchema.safeParse(raw);
  return r.success ? { ok: true, value: r.data } : { ok: false, problems: formatIssues(r.error.issues, root) };
}

function itemIndex(path: readonly PropertyKey[]): number {
  return typeof path[0] === 'number' ? path[0] : -1;
}
