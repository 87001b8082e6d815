/**
 * Email through an SMTP relay. One pooled transport per channel: when a shared MX goes down,
 * findings open for every domain it serves at once, and a connection per message would get
 * us rate limited by the relay. `close()` ends the pool on shutdown.
 *
 * An opened finding's mail has a stable Message-ID and its resolution replies to it
 * (In-Reply-To/References), so mail clients thread open and resolve together.
 */
import type { Transporter } from 'nodemailer';
import type SMTPPool from 'nodemailer/lib/smtp-pool';
import type Mail from 'nodemailer/lib/mailer';
import { NotifierError, type EmailChannelConfig, type NotificationEvent, type Notifier } from '../notification.types.js';
import { headline, messageItems, plainTextBody } from './notification-format.js';
import { deliveryId, EVENT_HEADER } from './webhook.notifier.js';

export interface EmailNotifierOptions {
  connectionTimeoutMs?: number;
  greetingTimeoutMs?: number;
  socketTimeoutMs?: number;
  /** Whole send, queueing in the pool included: a relay trickling replies defeats socketTimeout. */
  sendTimeoutMs?: number;
  maxConnections?: number;
}

export const DEFAULT_EMAIL_TIMEOUTS = {
  connectionTimeoutMs: 10_000,
  greetingTimeoutMs: 10_000,
  socketTimeoutMs: 30_000,
  sendTimeoutMs: 60_000,
} as const;

export function emailSubject(event: NotificationEvent): string {
  return `[mxwatch] ${headline(event)}`;
}

/** Message-ID of the "opened" mail of a finding, which its "resolved" mail refers to. */
export function openedMessageId(event: NotificationEvent, from: string): string {
  const safeId = event.finding.id.replace(/[^A-Za-z0-9._-]/g, '_');
  // firstSeenAt tells a re-opened finding apart: Gmail silently drops a repeated Message-ID.
  return `<mxwatch.${safeId}.${event.finding.firstSeenAt.getTime()}@${addressDomain(from)}>`;
}

function addressDomain(from: string): string {
  const match = /@([^\s@<>]+)>?\s*$/.exec(from);
  return match?.[1] ?? 'mxwatch.invalid';
}

export function buildEmailMessage(event: NotificationEvent, config: Pick<EmailChannelConfig, 'from' | 'to'>): Mail.Options {
  const message: Mail.Options = {
    from: config.from,
    to: config.to,
    subject: emailSubject(event),
    text: plainTextBody(event),
    headers: {
      [EVENT_HEADER]: event.kind,
      'X-Mxwatch-Finding': event.finding.id,
      'X-Mxwatch-Delivery': deliveryId(event),
      // RFC 3834: keeps vacation responders and ticket systems from answering an alert.
      'Auto-Submitted': 'auto-generated',
    },
  };
  // A policy change (or a test) starts no thread and answers none.
  if (event.kind !== 'opened' && event.kind !== 'resolved') return message;
  const items = messageItems(event);
  if (items.length > 1) {
    // A grouped mail takes the Message-ID of its headline finding and refers to the thread of
    // every other finding in it, so each finding's later mails thread with this one.
    const ids = items.map((i) => openedMessageId({ ...event, finding: i }, config.from));
    const [head, ...others] = ids;
    if (event.kind === 'opened') message.messageId = head!;
    else message.inReplyTo = head!;
    const references = event.kind === 'opened' ? others : ids;
    if (references.length > 0) message.references = references;
    return message;
  }
  const threadId = openedMessageId(event, config.from);
  if (event.kind === 'opened') message.messageId = threadId;
  if (event.kind === 'resolved') {
    message.inReplyTo = threadId;
    message.references = [threadId];
  }
  return message;
}

export class EmailNotifier implements Notifier {
  readonly type = 'email' as const;
  readonly name: string;
  private readonly transportOptions: SMTPPool.Options;
  /** Made on the first send: nodemailer is loaded only by a process that sends email (~2 MB of heap). */
  private transport: Promise<Transporter<SMTPPool.SentMessageInfo>> | null = null;
  private readonly sendTimeoutMs: number;

  constructor(
    private readonly config: EmailChannelConfig,
    options: EmailNotifierOptions = {},
  ) {
    this.name = config.name;
    this.sendTimeoutMs = options.sendTimeoutMs ?? DEFAULT_EMAIL_TIMEOUTS.sendTimeoutMs;
    const { smtp } = config;
    const secure = smtp.secure ?? smtp.port === 465;
    // Credentials never go out in clear text: without implicit TLS, STARTTLS is required (and a
    // relay that does not offer it, or a path that strips it, fails the send before AUTH) unless
    // the channel says allowInsecureAuth. requireTLS also overrides ignoreTLS in nodemailer.
    const requireTLS = smtp.requireTLS === true || (smtp.user !== undefined && !secure && smtp.allowInsecureAuth !== true);
    const transportOptions: SMTPPool.Options = {
      pool: true,
      maxConnections: options.maxConnections ?? 2,
      host: smtp.host,
      port: smtp.port,
      secure,
      requireTLS,
      ignoreTLS: smtp.ignoreTLS ?? false,
      tls: { rejectUnauthorized: smtp.rejectUnauthorized ?? true },
      connectionTimeout: options.connectionTimeoutMs ?? DEFAULT_EMAIL_TIMEOUTS.connectionTimeoutMs,
      greetingTimeout: options.greetingTimeoutMs ?? DEFAULT_EMAIL_TIMEOUTS.greetingTimeoutMs,
      socketTimeout: options.socketTimeoutMs ?? DEFAULT_EMAIL_TIMEOUTS.socketTimeoutMs,
      logger: false,
    };
    if (smtp.user !== undefined) transportOptions.auth = { user: smtp.user, pass: smtp.pass ?? '' };
    this.transportOptions = transportOptions;
  }

  private pooledTransport(): Promise<Transporter<SMTPPool.SentMessageInfo>> {
    return (this.transport ??= import('nodemailer').then(({ createTransport }) => {
      const transport = createTransport(this.transportOptions);
      // Each send reports its own failure; an unheard 'error' event would crash the process instead.
      transport.on('error', () => undefined);
      return transport;
    }));
  }

  async send(event: NotificationEvent, signal: AbortSignal): Promise<void> {
    const deadline = AbortSignal.timeout(this.sendTimeoutMs);
    // nodemailer >= 10.5 cancels a queued or in-flight send on abort; its typings predate that.
    const message = { ...buildEmailMessage(event, this.config), signal: AbortSignal.any([signal, deadline]) };
    const transport = await this.pooledTransport();
    let info: SMTPPool.SentMessageInfo;
    try {
      info = await transport.sendMail(message);
    } catch (err) {
      throw this.toNotifierError(err, signal, deadline);
    }
    const rejected = (info.rejected ?? []).map(String);
    if (rejected.length > 0) {
      // Some recipients got it; a retry would duplicate their copy, so report without retrying.
      throw new NotifierError(`${this.config.smtp.host} refused recipients ${rejected.join(', ')}`, {
        retryable: false,
        code: 'rejected',
      });
    }
  }

  async close(): Promise<void> {
    const transport = this.transport;
    this.transport = null;
    if (transport) (await transport).close();
  }

  private toNotifierError(err: unknown, signal: AbortSignal, deadline: AbortSignal): NotifierError {
    const host = `${this.config.smtp.host}:${this.config.smtp.port}`;
    const e = (err ?? {}) as { code?: string; responseCode?: number; response?: string; message?: string };
    if (signal.aborted) return new NotifierError(`delivery to ${host} aborted`, { retryable: true, code: 'aborted', cause: err });
    if (deadline.aborted) {
      return new NotifierError(`${host} did not accept the message within ${this.sendTimeoutMs} ms`, {
        retryable: true,
        code: 'timeout',
        cause: err,
      });
    }
    if (typeof e.responseCode === 'number') {
      // RFC 5321: 5yz is permanent; 503 is a session-state error a fresh connection can clear.
      const permanent = e.responseCode >= 500 && e.responseCode < 600 && e.responseCode !== 503;
      // Only the reply code and enhanced status code: the reply text is the relay's to choose and
      // may name internal hosts or mailboxes, and this message is stored and served.
      return new NotifierError(`${host} refused: ${replyCodes(e.responseCode, e.response)}`, {
        retryable: !permanent,
        code: 'rejected',
        status: e.responseCode,
        cause: err,
      });
    }
    const detail = `${e.code ? `${e.code} ` : ''}${e.message ?? String(err)}`;
    if (e.code === 'ETIMEDOUT') return new NotifierError(`${host} timed out: ${detail}`, { retryable: true, code: 'timeout', cause: err });
    // No SMTP reply and no network trouble: our configuration is wrong (no usable AUTH mechanism,
    // missing credentials, no recipients); retrying sends the same wrong thing.
    if (e.code === 'EAUTH' || e.code === 'ENOAUTH' || e.code === 'EENVELOPE' || e.code === 'ECONFIG' || e.code === 'EREQUIRETLS') {
      return new NotifierError(`${host}: ${detail}`, { retryable: false, code: 'rejected', cause: err });
    }
    return new NotifierError(`could not deliver through ${host}: ${detail}`, { retryable: true, code: 'network', cause: err });
  }
}

/** `550 5.1.1` from `550 5.1.1 <x@internal.example>: Recipient address rejected`. */
function replyCodes(code: number, response: string | undefined): string {
  const enhanced = /^\d{3}[ -]([245]\.\d{1,3}\.\d{1,3})\b/.exec((response ?? '').trim());
  return enhanced ? `${code} ${enhanced[1]}` : String(code);
}
