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
import { aboutText, evidenceLines, formatDate, headline, messageItems } from './notification-format.js';
import type { NotificationItem } from '../notification.types.js';
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

/**
 * Text shown inside a ``` block. A remote value with backticks (an SMTP banner is the remote
 * server's to choose) would otherwise close the block and have the rest rendered as mrkdwn. A
 * zero-width space after every backtick means no two backticks are ever adjacent, so no fence
 * can form, while the text still reads the same.
 */
export function neutraliseFences(text: string): string {
  return text.replace(/`/g, '`\u200b');
}

function codeBlock(lines: string[]): string {
  return `\`\`\`${lines.length ? lines.join('\n') : '-'}\`\`\``;
}

const renderEvidenceLine = (line: string) => neutraliseFences(escapeSlack(line));

function clip(text: string, max: number): string {
  return text.length > max ? `${text.slice(0, max - 1)}…` : text;
}

/** `<url|label>` breaks on a literal `|` or `>` in the URL. */
function slackLink(url: string, label: string): string {
  return `<${url.replace(/\|/g, '%7C').replace(/>/g, '%3E')}|${escapeSlack(label)}>`;
}

export function buildSlackMessage(event: NotificationEvent): SlackMessage {
  const items = messageItems(event);
  if (items.length > 1) return buildGroupedSlackMessage(event, items);
  const f = event.finding;
  const title = `[mxwatch] ${headline(event)}`;
  const evidence = evidenceLines(f.evidence, { maxChars: SECTION_MAX - 40, render: renderEvidenceLine });
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
        field('Domain', event.domain ?? 'none: about mxwatch itself'),
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
        text: `*Evidence*\n${codeBlock(evidence)}`,
      },
    },
    {
      type: 'context',
      elements: [
        { type: 'mrkdwn', text: slackLink(event.statusUrl, `Status of ${aboutText(event)}`) },
        { type: 'mrkdwn', text: escapeSlack(`finding ${f.id}, sent ${formatDate(event.sentAt)}`) },
      ],
    },
  ];
  return { text, blocks };
}

// Slack allows 50 blocks per message; beyond this many items the rest are counted, not shown.
const MAX_ITEM_BLOCKS = 20;

/** One section per finding, each with its own evidence block, then the link to the status page. */
function buildGroupedSlackMessage(event: NotificationEvent, items: NotificationItem[]): SlackMessage {
  const title = `[mxwatch] ${headline(event)}`;
  const opened = items.filter((i) => i.event === 'opened').length;
  const summary = event.kind === 'change' ? `${items.length} policy changes on ${aboutText(event)}` : `${opened} opened, ${items.length - opened} resolved on ${aboutText(event)}`;
  const line = (i: NotificationItem) => `${i.event.toUpperCase()} ${i.severity} ${i.code} on ${i.target}: ${i.message}`;

  const text = [escapeSlack(title), escapeSlack(summary), ...items.map((i) => `- ${escapeSlack(line(i))}`), `Status: ${event.statusUrl}`].join('\n');

  const shown = items.slice(0, MAX_ITEM_BLOCKS);
  const blocks: SlackBlock[] = [
    { type: 'header', text: { type: 'plain_text', text: clip(title, HEADER_MAX) } },
    { type: 'section', text: { type: 'mrkdwn', text: clip(escapeSlack(summary), SECTION_MAX) } },
    ...shown.map((i): SlackBlock => {
      const head = `*${i.event.toUpperCase()} ${escapeSlack(i.severity)} ${escapeSlack(i.code)}*  ${escapeSlack(i.target)}\n${escapeSlack(i.message)}\n_${escapeSlack(i.remediation)}_`;
      const budget = Math.max(200, SECTION_MAX - Math.min(head.length, 1500) - 20);
      const evidence = evidenceLines(i.evidence, { maxLines: 10, maxChars: budget, render: renderEvidenceLine });
      return { type: 'section', text: { type: 'mrkdwn', text: clip(`${clip(head, 1500)}\n${codeBlock(evidence)}`, SECTION_MAX) } };
    }),
  ];
  if (items.length > shown.length) {
    blocks.push({ type: 'context', elements: [{ type: 'mrkdwn', text: `${items.length - shown.length} more in the status page` }] });
  }
  blocks.push({
    type: 'context',
    elements: [
      { type: 'mrkdwn', text: slackLink(event.statusUrl, `Status of ${aboutText(event)}`) },
      { type: 'mrkdwn', text: escapeSlack(`sent ${formatDate(event.sentAt)}`) },
    ],
  });
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
