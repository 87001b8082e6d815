import { describe, expect, it } from 'vitest';
import type { ChannelConfig } from '../notification.types.js';
import { EmailNotifier } from './email.notifier.js';
import { createNotifier } from './notifier-factory.js';
import { SlackNotifier } from './slack.notifier.js';
import { WebhookNotifier } from './webhook.notifier.js';

const webhook: ChannelConfig = { type: 'webhook', name: 'hook', url: 'https://hooks.example.net/mxwatch' };

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
