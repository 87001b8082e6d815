// Channels are validated with the rest of the configuration (config/notification-channels.ts).
import type { ChannelConfig, NotificationEvent, NotificationFinding, Notifier } from '../notification.types.js';
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

function assertNever(value: never): never {
  throw new Error(`unknown channel type: ${JSON.stringify(value)}`);
}
