import { describe, expect, it } from 'vitest';
import type { ChannelConfig } from '../notification.types.js';
import { EmailNotifier } from './email.notifier.js';
import {
  ChannelConfigError,
  createNotifier,
  validateChannelConfig,
  validateChannelConfigs,
} from './notifier-factory.js';
import { SlackNotifier } from './slack.notifier.js';
import { WebhookNotifier } from './webhook.notifier.js';

const webhook: ChannelConfig = { type: 'webhook', name: 'hook', url: 'https://hooks.example.net/mxwatch' };

/** The exact message thrown, so a test fails on any drift in wording. */
function thrownMessage(fn: () => unknown): string {
  try {
    fn();
  } catch (e) {
    expect(e).toBeInstanceOf(ChannelConfigError);
    return (e as Error).message;
  }
  throw new Error('expected a ChannelConfigError');
}

describe(createNotifier.name, () => {
  it('should build the notifier of each channel type under the channel name', async () => {
    const hook = createNotifier(webhook);
    const slack = createNotifier({ type: 'slack', name: 'chat', url: 'https://hooks.slack.com/services/T/B/X' });
    const email = createNotifier({
      type: 'email',
      name: 'mail',
      to: ['a@example.net'],
      from: 'mxwatch@example.net',
      smtp: { host: '127.0.0.1', port: 25 },
    });
    expect(hook).toBeInstanceOf(WebhookNotifier);
    expect(slack).toBeInstanceOf(SlackNotifier);
    expect(email).toBeInstanceOf(EmailNotifier);
    expect([hook, slack, email].map((n) => [n.name, n.type])).toEqual([
      ['hook', 'webhook'],
      ['chat', 'slack'],
      ['mail', 'email'],
    ]);
    await email.close?.();
  });
});

describe(validateChannelConfig.name, () => {
  const P = 'notifications[1]';
  const smtp = { host: 'relay.example.net', port: 587 };
  const email = { type: 'email', name: 'mail', to: ['oncall@example.net'], from: 'mxwatch@example.net', smtp };

  it('should accept and normalise valid channels', () => {
    expect(validateChannelConfig({ type: 'webhook', name: 'hook', url: 'https://h.example.net/x', secret: 's', minSeverity: 'warning', labels: { env: 'prod' } }, P)).toEqual({
      type: 'webhook',
      name: 'hook',
      url: 'https://h.example.net/x',
      secret: 's',
      minSeverity: 'warning',
      labels: { env: 'prod' },
    });
    expect(validateChannelConfig({ type: 'slack', name: 'chat', url: 'http://mattermost.lan/hooks/abc' }, P)).toEqual({
      type: 'slack',
      name: 'chat',
      url: 'http://mattermost.lan/hooks/abc',
    });
    expect(validateChannelConfig({ ...email, to: 'oncall@example.net', from: 'mxwatch <mxwatch@example.net>', smtp: { host: 'relay', user: 'u', pass: 'p', secure: true } }, P)).toEqual({
      type: 'email',
      name: 'mail',
      to: ['oncall@example.net'],
      from: 'mxwatch <mxwatch@example.net>',
      smtp: { host: 'relay', port: 465, secure: true, user: 'u', pass: 'p' },
    });
    expect(validateChannelConfig({ ...email, smtp: { host: 'relay' } }, P)).toMatchObject({ smtp: { host: 'relay', port: 587 } });
  });

  it.each<[string, unknown, string]>([
    ['a non-mapping', 'https://x', `${P}: must be a mapping`],
    ['a missing type', { name: 'x', url: 'https://x' }, `${P}.type: must be one of webhook, slack, email`],
    ['an unknown type', { type: 'pagerduty', name: 'x' }, `${P}.type: must be one of webhook, slack, email`],
    ['a missing name', { type: 'slack', url: 'https://x' }, `${P}.name: must be a non-empty string`],
    ['a blank name', { type: 'slack', name: ' ', url: 'https://x' }, `${P}.name: must be a non-empty string`],
    ['a missing url', { type: 'webhook', name: 'x' }, `${P}.url: must be an http(s) URL`],
    ['a relative url', { type: 'webhook', name: 'x', url: '/hook' }, `${P}.url: must be an http(s) URL`],
    ['a non-http url', { type: 'slack', name: 'x', url: 'ftp://h.example.net/' }, `${P}.url: must be an http(s) URL`],
    ['an empty secret', { type: 'webhook', name: 'x', url: 'https://x', secret: '' }, `${P}.secret: must be a non-empty string`],
    ['a secret on slack', { type: 'slack', name: 'x', url: 'https://x', secret: 's' }, `${P}.secret: unknown key for a slack channel (allowed: type, name, minSeverity, labels, url)`],
    ['a misspelt key', { type: 'webhook', name: 'x', url: 'https://x', minSeverty: 'info' }, `${P}.minSeverty: unknown key for a webhook channel (allowed: type, name, minSeverity, labels, url, secret)`],
    ['a bad minSeverity', { type: 'webhook', name: 'x', url: 'https://x', minSeverity: 'high' }, `${P}.minSeverity: must be one of critical, warning, info`],
    ['labels as a list', { type: 'webhook', name: 'x', url: 'https://x', labels: ['prod'] }, `${P}.labels: must be a mapping of label names to strings`],
    ['a numeric label', { type: 'webhook', name: 'x', url: 'https://x', labels: { tier: 1 } }, `${P}.labels.tier: must be a string (quote it in YAML)`],
    ['a missing to', { ...email, to: undefined }, `${P}.to: must be an email address or a non-empty list of them`],
    ['an empty to', { ...email, to: [] }, `${P}.to: must be an email address or a non-empty list of them`],
    ['a bad recipient', { ...email, to: ['ok@example.net', 'oncall'] }, `${P}.to[1]: must be an email address`],
    ['a missing from', { ...email, from: undefined }, `${P}.from: must be an email address, optionally with a display name ("mxwatch <alerts@example.com>")`],
    ['a missing smtp', { ...email, smtp: undefined }, `${P}.smtp: must be a mapping with at least host`],
    ['a missing smtp.host', { ...email, smtp: { port: 25 } }, `${P}.smtp.host: must be a non-empty string`],
    ['port 0', { ...email, smtp: { ...smtp, port: 0 } }, `${P}.smtp.port: must be an integer between 1 and 65535`],
    ['port 70000', { ...email, smtp: { ...smtp, port: 70000 } }, `${P}.smtp.port: must be an integer between 1 and 65535`],
    ['a string port', { ...email, smtp: { ...smtp, port: '587' } }, `${P}.smtp.port: must be an integer between 1 and 65535`],
    ['a string flag', { ...email, smtp: { ...smtp, secure: 'yes' } }, `${P}.smtp.secure: must be true or false`],
    ['a user without pass', { ...email, smtp: { ...smtp, user: 'u' } }, `${P}.smtp.pass: must be set when ${P}.smtp.user is`],
    ['a pass without user', { ...email, smtp: { ...smtp, pass: 'p' } }, `${P}.smtp.user: must be set when ${P}.smtp.pass is`],
    ['requireTLS with ignoreTLS', { ...email, smtp: { ...smtp, requireTLS: true, ignoreTLS: true } }, `${P}.smtp.ignoreTLS: cannot be combined with requireTLS`],
    ['an unknown smtp key', { ...email, smtp: { ...smtp, tls: {} } }, `${P}.smtp.tls: unknown key (allowed: host, port, secure, user, pass, rejectUnauthorized, requireTLS, ignoreTLS)`],
    ['a url on email', { ...email, url: 'https://x' }, `${P}.url: unknown key for an email channel (allowed: type, name, minSeverity, labels, to, from, smtp)`],
  ])('should reject %s', (_what, raw, message) => {
    const raw2 = raw && typeof raw === 'object' ? Object.fromEntries(Object.entries(raw).filter(([, v]) => v !== undefined)) : raw;
    expect(thrownMessage(() => validateChannelConfig(raw2, P))).toBe(message);
  });

  it('should list every bad field at once', () => {
    let error: unknown;
    try {
      validateChannelConfig({ type: 'email', name: '', to: 'x', smtp: { port: -1 } }, P);
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(ChannelConfigError);
    expect((error as ChannelConfigError).issues).toEqual([
      `${P}.name: must be a non-empty string`,
      `${P}.to[0]: must be an email address`,
      `${P}.from: must be an email address, optionally with a display name ("mxwatch <alerts@example.com>")`,
      `${P}.smtp.host: must be a non-empty string`,
      `${P}.smtp.port: must be an integer between 1 and 65535`,
    ]);
    expect((error as Error).message).toBe((error as ChannelConfigError).issues.join('\n'));
  });
});

describe(validateChannelConfigs.name, () => {
  it('should validate each entry under its index and refuse duplicate names', () => {
    expect(
      thrownMessage(() => validateChannelConfigs([webhook, { type: 'slack', name: 'hook', url: 'https://x' }, { type: 'slack', name: 'c' }])),
    ).toBe(['notifications[1].name: "hook" is already used by notifications[0]', 'notifications[2].url: must be an http(s) URL'].join('\n'));
  });

  it('should treat an absent list as no channels and refuse a non-list', () => {
    expect(validateChannelConfigs(undefined)).toEqual([]);
    expect(thrownMessage(() => validateChannelConfigs({ type: 'webhook' }))).toBe('notifications: must be a list');
  });
});
