import { SEVERITIES, type Severity } from '../../findings/finding-catalog.js';
import {
  CHANNEL_TYPES,
  type ChannelConfig,
  type ChannelType,
  type EmailChannelConfig,
  type NotificationEvent,
  type NotificationFinding,
  type Notifier,
  type SmtpRelayConfig,
} from '../notification.types.js';
import { EmailNotifier, type EmailNotifierOptions } from './email.notifier.js';
import { SlackNotifier } from './slack.notifier.js';
import { WebhookNotifier } from './webhook.notifier.js';

export interface NotifierFactoryOptions {
  httpTimeoutMs?: number;
  email?: EmailNotifierOptions;
}

export function createNotifier(config: ChannelConfig, options: NotifierFactoryOptions = {}): Notifier {
  const http = options.httpTimeoutMs === undefined ? {} : { timeoutMs: options.httpTimeoutMs };
  switch (config.type) {
    case 'webhook':
      return new WebhookNotifier(config, http);
    case 'slack':
      return new SlackNotifier(config, http);
    case 'email':
      return new EmailNotifier(config, options.email ?? {});
    default:
      return assertNever(config);
  }
}

/** A synthetic event for "send a test notification"; info severity, nothing for anyone to fix. */
export function createTestEvent(input: {
  domain: string;
  domainLabels?: Record<string, string>;
  statusUrl: string;
  now: Date;
}): NotificationEvent {
  const finding: NotificationFinding = {
    id: `test-${input.now.getTime()}`,
    code: 'MXWATCH_TEST',
    severity: 'info',
    probe: 'mxwatch',
    target: input.domain,
    message: `Test notification from mxwatch for ${input.domain}`,
    remediation: 'Nothing to do: this channel delivers mxwatch notifications.',
    evidence: {},
    firstSeenAt: input.now,
    lastSeenAt: input.now,
    resolvedAt: null,
  };
  return {
    kind: 'test',
    domain: input.domain,
    domainLabels: input.domainLabels ?? {},
    finding,
    findings: [{ ...finding, event: 'opened' }],
    statusUrl: input.statusUrl,
    sentAt: input.now,
  };
}

// ---------------------------------------------------------------------------------------------
// Validation of the YAML `notifications:` list
// ---------------------------------------------------------------------------------------------

/** Carries every problem found, one per line in `message`, each starting with its YAML path. */
export class ChannelConfigError extends Error {
  override readonly name = 'ChannelConfigError';
  constructor(readonly issues: readonly string[]) {
    super(issues.join('\n'));
  }
}

const COMMON_KEYS = ['type', 'name', 'minSeverity', 'labels'] as const;
const KEYS: Record<ChannelType, readonly string[]> = {
  webhook: [...COMMON_KEYS, 'url', 'secret'],
  slack: [...COMMON_KEYS, 'url'],
  email: [...COMMON_KEYS, 'to', 'from', 'smtp'],
};
const SMTP_KEYS = ['host', 'port', 'secure', 'user', 'pass', 'rejectUnauthorized', 'requireTLS', 'ignoreTLS'] as const;
const SMTP_FLAGS = ['secure', 'rejectUnauthorized', 'requireTLS', 'ignoreTLS'] as const;

// Deliberately loose: the relay is the authority on addresses; this catches typos and YAML slips.
const ADDRESS = /^[^\s@<>",;]+@[^\s@<>",;]+$/;

/** Validates one channel; throws `ChannelConfigError` listing every bad field by its YAML path. */
export function validateChannelConfig(raw: unknown, path: string): ChannelConfig {
  const issues: string[] = [];
  const config = checkChannel(raw, path, issues);
  if (issues.length > 0 || config === null) throw new ChannelConfigError(issues);
  return config;
}

/** Validates the whole list, including that channel names (used in the attempt log) are unique. */
export function validateChannelConfigs(raw: unknown, path = 'notifications'): ChannelConfig[] {
  if (raw === undefined || raw === null) return [];
  if (!Array.isArray(raw)) throw new ChannelConfigError([`${path}: must be a list`]);
  const issues: string[] = [];
  const configs: ChannelConfig[] = [];
  const seen = new Map<string, number>();
  raw.forEach((item, i) => {
    const itemPath = `${path}[${i}]`;
    const config = checkChannel(item, itemPath, issues);
    const name = isPlainObject(item) && typeof item['name'] === 'string' ? item['name'] : undefined;
    if (name !== undefined && name.trim() !== '') {
      const first = seen.get(name);
      if (first === undefined) seen.set(name, i);
      else issues.push(`${itemPath}.name: "${name}" is already used by ${path}[${first}]`);
    }
    if (config) configs.push(config);
  });
  if (issues.length > 0) throw new ChannelConfigError(issues);
  return configs;
}

function checkChannel(raw: unknown, path: string, issues: string[]): ChannelConfig | null {
  if (!isPlainObject(raw)) {
    issues.push(`${path}: must be a mapping`);
    return null;
  }
  const start = issues.length;
  const type = raw['type'];
  const name = raw['name'];
  if (typeof name !== 'string' || name.trim() === '') issues.push(`${path}.name: must be a non-empty string`);
  if (typeof type !== 'string' || !(CHANNEL_TYPES as readonly string[]).includes(type)) {
    issues.push(`${path}.type: must be one of ${CHANNEL_TYPES.join(', ')}`);
    // Without a known type the other keys cannot be judged.
    return null;
  }
  const channelType = type as ChannelType;
  for (const key of Object.keys(raw)) {
    if (!KEYS[channelType].includes(key)) {
      issues.push(`${path}.${key}: unknown key for ${channelType === 'email' ? 'an' : 'a'} ${channelType} channel (allowed: ${KEYS[channelType].join(', ')})`);
    }
  }

  const filter: { minSeverity?: Severity; labels?: Record<string, string> } = {};
  const minSeverity = raw['minSeverity'];
  if (minSeverity !== undefined) {
    if (typeof minSeverity === 'string' && (SEVERITIES as readonly string[]).includes(minSeverity)) {
      filter.minSeverity = minSeverity as Severity;
    } else issues.push(`${path}.minSeverity: must be one of ${SEVERITIES.join(', ')}`);
  }
  const labels = raw['labels'];
  if (labels !== undefined) {
    if (!isPlainObject(labels)) issues.push(`${path}.labels: must be a mapping of label names to strings`);
    else {
      const out: Record<string, string> = {};
      for (const [k, v] of Object.entries(labels)) {
        // YAML reads `tier: 1` as a number; domain labels are strings, so it would never match.
        if (typeof v !== 'string') issues.push(`${path}.labels.${k}: must be a string (quote it in YAML)`);
        else out[k] = v;
      }
      filter.labels = out;
    }
  }

  let config: ChannelConfig | null = null;
  const base = { name: name as string, ...filter };
  switch (channelType) {
    case 'webhook': {
      const url = checkUrl(raw['url'], `${path}.url`, issues);
      const secret = raw['secret'];
      if (secret !== undefined && (typeof secret !== 'string' || secret === '')) {
        issues.push(`${path}.secret: must be a non-empty string`);
      }
      config = { type: 'webhook', ...base, url, ...(typeof secret === 'string' && secret !== '' ? { secret } : {}) };
      break;
    }
    case 'slack':
      config = { type: 'slack', ...base, url: checkUrl(raw['url'], `${path}.url`, issues) };
      break;
    case 'email':
      config = checkEmail(raw, path, base, issues);
      break;
  }
  return issues.length > start ? null : config;
}

function checkUrl(raw: unknown, path: string, issues: string[]): string {
  const message = `${path}: must be an http(s) URL`;
  if (typeof raw !== 'string') {
    issues.push(message);
    return '';
  }
  try {
    const url = new URL(raw);
    if ((url.protocol !== 'http:' && url.protocol !== 'https:') || url.hostname === '') issues.push(message);
  } catch {
    issues.push(message);
  }
  return raw;
}

function checkEmail(
  raw: Record<string, unknown>,
  path: string,
  base: Omit<EmailChannelConfig, 'type' | 'to' | 'from' | 'smtp'>,
  issues: string[],
): EmailChannelConfig {
  const to: string[] = [];
  const rawTo = typeof raw['to'] === 'string' ? [raw['to']] : raw['to'];
  if (!Array.isArray(rawTo) || rawTo.length === 0) {
    issues.push(`${path}.to: must be an email address or a non-empty list of them`);
  } else {
    rawTo.forEach((address, i) => {
      if (typeof address === 'string' && ADDRESS.test(address.trim())) to.push(address.trim());
      else issues.push(`${path}.to[${i}]: must be an email address`);
    });
  }

  const from = raw['from'];
  if (typeof from !== 'string' || !isMailbox(from)) {
    issues.push(`${path}.from: must be an email address, optionally with a display name ("mxwatch <alerts@example.com>")`);
  }

  const smtp = checkSmtp(raw['smtp'], `${path}.smtp`, issues);
  return { type: 'email', ...base, to, from: typeof from === 'string' ? from.trim() : '', smtp };
}

function isMailbox(value: string): boolean {
  const trimmed = value.trim();
  const named = /^[^<>]*<([^<>]+)>$/.exec(trimmed);
  return ADDRESS.test(named ? named[1]!.trim() : trimmed);
}

function checkSmtp(raw: unknown, path: string, issues: string[]): SmtpRelayConfig {
  const smtp: SmtpRelayConfig = { host: '', port: 587 };
  if (!isPlainObject(raw)) {
    issues.push(`${path}: must be a mapping with at least host`);
    return smtp;
  }
  for (const key of Object.keys(raw)) {
    if (!(SMTP_KEYS as readonly string[]).includes(key)) {
      issues.push(`${path}.${key}: unknown key (allowed: ${SMTP_KEYS.join(', ')})`);
    }
  }
  const host = raw['host'];
  if (typeof host !== 'string' || host.trim() === '') issues.push(`${path}.host: must be a non-empty string`);
  else smtp.host = host.trim();

  for (const flag of SMTP_FLAGS) {
    const value = raw[flag];
    if (value === undefined) continue;
    if (typeof value !== 'boolean') issues.push(`${path}.${flag}: must be true or false`);
    else smtp[flag] = value;
  }

  const port = raw['port'];
  if (port === undefined) smtp.port = smtp.secure ? 465 : 587;
  else if (typeof port !== 'number' || !Number.isInteger(port) || port < 1 || port > 65535) {
    issues.push(`${path}.port: must be an integer between 1 and 65535`);
  } else smtp.port = port;

  const user = raw['user'];
  const pass = raw['pass'];
  if (user !== undefined && (typeof user !== 'string' || user === '')) issues.push(`${path}.user: must be a non-empty string`);
  if (pass !== undefined && typeof pass !== 'string') issues.push(`${path}.pass: must be a string`);
  if (typeof user === 'string' && user !== '') {
    smtp.user = user;
    if (pass === undefined) issues.push(`${path}.pass: must be set when ${path}.user is`);
  }
  if (typeof pass === 'string') {
    smtp.pass = pass;
    if (user === undefined) issues.push(`${path}.user: must be set when ${path}.pass is`);
  }
  if (smtp.requireTLS && smtp.ignoreTLS) issues.push(`${path}.ignoreTLS: cannot be combined with requireTLS`);
  return smtp;
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function assertNever(value: never): never {
  throw new Error(`unknown channel type: ${JSON.stringify(value)}`);
}
