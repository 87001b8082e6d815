/**
 * Slack-compatible incoming webhook: `POST <url>` with `{ text, blocks }`. Slack renders
 * `blocks` and uses `text` for notifications; Mattermost and Rocket.Chat ignore `blocks` and
 * render `text`, so `text` carries every field on its own.
 *
 * Message, target and evidence come from remote servers (SMTP replies, DNS TXT records), so
 * every string is escaped per Slack's rules: an unescaped `<!channel>` in a banner would
 * otherwise ping a whole channel.
 */
import type { NotificationEvent, Notifier, SlackChannelConfig } from '../notification.types.js';
import { DEFAULT_HTTP_TIMEOUT_MS, httpPost } from './http-post.js';
import { evidenceLines, formatDate, headline } from './notification-format.js';
import { serialize } from './webhook.notifier.js';

// Slack rejects the whole post (400 invalid_blocks) when a block exceeds its limits.
const HEADER_MAX = 150;
const SECTION_MAX = 3000;
const FIELD_MAX = 2000;

export interface SlackMessage {
  text: string;
  blocks: SlackBlock[];
}

export type SlackBlock =
  | { type: 'header'; text: { type: 'plain_text'; text: string } }
  | { type: 'section'; text: { type: 'mrkdwn'; text: string }; fields?: { type: 'mrkdwn'; text: string }[] }
  | { type: 'context'; elements: { type: 'mrkdwn'; text: string }[] };

export function escapeSlack(text: string): string {
  return text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
}

function clip(text: string, max: number): string {
  return text.length > max ? `${text.slice(0, max - 1)}…` : text;
}

/** `<url|label>` breaks on a literal `|` or `>` in the URL. */
function slackLink(url: string, label: string): string {
  return `<${url.replace(/\|/g, '%7C').replace(/>/g, '%3E')}|${escapeSlack(label)}>`;
}

export function buildSlackMessage(event: NotificationEvent): SlackMessage {
  const f = event.finding;
  const title = `[mxwatch] ${headline(event)}`;
  const evidence = evidenceLines(f.evidence, { maxChars: SECTION_MAX - 40, render: escapeSlack });
  const evidenceInline = evidence.length ? evidence.join('; ') : '-';

  const text = [
    escapeSlack(title),
    escapeSlack(f.message),
    `Target: ${escapeSlack(f.target)}`,
    `Remediation: ${escapeSlack(f.remediation)}`,
    `Evidence: ${evidenceInline}`,
    `Status: ${event.statusUrl}`,
  ].join('\n');

  const field = (label: string, value: string) => ({
    type: 'mrkdwn' as const,
    text: clip(`*${label}*\n${escapeSlack(value)}`, FIELD_MAX),
  });
  const timeField =
    f.resolvedAt === null ? field('First seen', formatDate(f.firstSeenAt)) : field('Resolved', formatDate(f.resolvedAt));

  const blocks: SlackBlock[] = [
    { type: 'header', text: { type: 'plain_text', text: clip(title, HEADER_MAX) } },
    {
      type: 'section',
      text: { type: 'mrkdwn', text: clip(escapeSlack(f.message), SECTION_MAX) },
      fields: [
        field('Domain', event.domain),
        field('Severity', f.severity),
        field('Code', f.code),
        field('Event', event.kind),
        field('Probe', f.probe),
        field('Target', f.target),
        timeField,
      ],
    },
    { type: 'section', text: { type: 'mrkdwn', text: clip(`*Remediation*\n${escapeSlack(f.remediation)}`, SECTION_MAX) } },
    {
      type: 'section',
      text: {
        type: 'mrkdwn',
        text: `*Evidence*\n\`\`\`${evidence.length ? evidence.join('\n') : '-'}\`\`\``,
      },
    },
    {
      type: 'context',
      elements: [
        { type: 'mrkdwn', text: slackLink(event.statusUrl, `Status of ${event.domain}`) },
        { type: 'mrkdwn', text: escapeSlack(`finding ${f.id}, sent ${formatDate(event.sentAt)}`) },
      ],
    },
  ];
  return { text, blocks };
}

export interface SlackNotifierOptions {
  timeoutMs?: number;
}

export class SlackNotifier implements Notifier {
  readonly type = 'slack' as const;
  readonly name: string;
  private readonly timeoutMs: number;

  constructor(
    private readonly config: SlackChannelConfig,
    options: SlackNotifierOptions = {},
  ) {
    this.name = config.name;
    this.timeoutMs = options.timeoutMs ?? DEFAULT_HTTP_TIMEOUT_MS;
  }

  async send(event: NotificationEvent, signal: AbortSignal): Promise<void> {
    const body = serialize(buildSlackMessage(event));
    await httpPost({
      url: this.config.url,
      body,
      headers: { 'Content-Type': 'application/json; charset=utf-8', 'User-Agent': 'mxwatch' },
      signal,
      timeoutMs: this.timeoutMs,
    });
  }
}
