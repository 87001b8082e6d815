import type { Socket } from 'node:net';
import { performance } from 'node:perf_hooks';
import type { TLSSocket } from 'node:tls';
import type { TlsUpgrader } from '../probe.types.js';
import { type SmtpParseError, type SmtpParserLimits, type SmtpReply, SmtpReplyParser, sanitizeForDisplay } from './smtp-reply-parser.js';

export type SmtpClientErrorKind = 'timeout' | 'closed' | 'protocol' | 'aborted' | 'socket';

/** Typed failure of one step; the probe turns `kind` into a status and a reason. */
export class SmtpClientError extends Error {
  constructor(
    readonly kind: SmtpClientErrorKind,
    message: string,
    /** Set for `protocol`: what the parser or the session found wrong. */
    readonly parseError: SmtpParseError | null = null,
  ) {
    super(message);
    this.name = 'SmtpClientError';
  }
}

export interface SmtpTimings {
  connectMs?: number;
  bannerMs?: number;
  ehloMs?: number;
  starttlsMs?: number;
  tlsHandshakeMs?: number;
  ehlo2Ms?: number;
}

export interface SmtpSessionOptions {
  /** Absolute epoch ms; no wait of the session outlives it. */
  deadline: number;
  /** Longest wait for one reply. */
  replyTimeoutMs: number;
  signal?: AbortSignal;
  parserLimits?: Partial<SmtpParserLimits>;
  transcript?: Transcript;
  /** Replies received but not yet asked for; more than this is a server talking out of turn. */
  maxQueuedReplies?: number;
}

/**
 * The conversation as operators read it: `C:`/`S:` in plaintext, `C[tls]:`/`S[tls]:` inside TLS,
 * `*` for events. Bounded in lines and characters so a chatty server cannot bloat stored results.
 */
export class Transcript {
  readonly lines: string[] = [];
  private chars = 0;
  private truncated = false;

  constructor(
    private readonly maxLines = 200,
    private readonly maxChars = 16 * 1024,
  ) {}

  add(line: string): void {
    if (this.truncated) return;
    const text = sanitizeForDisplay(line, 512);
    if (this.lines.length + 1 >= this.maxLines || this.chars + text.length > this.maxChars) {
      this.truncated = true;
      this.lines.push('* transcript truncated');
      return;
    }
    this.lines.push(text);
    this.chars += text.length;
  }
}

export interface EhloResult {
  reply: SmtpReply;
  ok: boolean;
  /** Keyword lines after the greeting line, upper-cased keyword first (`AUTH PLAIN LOGIN`, `STARTTLS`). */
  capabilities: string[];
}

/** Capability lines of an EHLO reply: every line but the first (the greeting), normalised. */
export function parseEhloCapabilities(reply: SmtpReply): string[] {
  if (reply.code !== 250) return [];
  return reply.lines
    .slice(1)
    .map((l) => l.trim().replace(/\s+/g, ' '))
    .filter(Boolean)
    .map((l) => {
      const [kw, ...rest] = l.split(' ');
      return [kw!.toUpperCase(), ...rest].join(' ');
    });
}

export function hasCapability(capabilities: string[], keyword: string): boolean {
  const kw = keyword.toUpperCase();
  return capabilities.some((c) => c.split(' ')[0] === kw);
}

/** Mechanisms from `AUTH ...` and the pre-RFC 4954 `AUTH=...` form some servers still send. */
export function authMechanisms(capabilities: string[]): string[] {
  const out = new Set<string>();
  for (const c of capabilities) {
    const m = /^AUTH[ =](.*)$/i.exec(c);
    if (m) for (const mech of m[1]!.split(/[\s=]+/).filter(Boolean)) out.add(mech.toUpperCase());
  }
  return [...out];
}

export function formatReply(reply: SmtpReply): string {
  return sanitizeForDisplay(reply.raw.join(' / '), 300);
}

/** Our own end of a session: one shared value, since nothing waits on it (an Error's stack is not free, once per probe). */
const SESSION_CLOSED = new SmtpClientError('closed', 'session closed');

type Waiter = { resolve: (r: SmtpReply) => void; reject: (e: SmtpClientError) => void };

/**
 * One SMTP conversation over an already connected socket. It never speaks first (postscreen
 * drops clients that talk before the full banner), never pipelines, and bounds every wait by
 * min(reply timeout, deadline). Use `close()` in a finally: it always destroys the sockets.
 */
export class SmtpSession {
  readonly transcript: Transcript;
  readonly timings: SmtpTimings = {};
  private socket: Socket;
  private readonly sockets: Socket[] = [];
  private parser: SmtpReplyParser;
  private readonly queue: SmtpReply[] = [];
  private waiter: Waiter | null = null;
  private ended: SmtpClientError | null = null;
  private inTls = false;
  private readonly onAbort = () => this.end(new SmtpClientError('aborted', 'aborted'), true);

  constructor(
    socket: Socket,
    private readonly options: SmtpSessionOptions,
  ) {
    this.socket = socket;
    this.sockets.push(socket);
    this.transcript = options.transcript ?? new Transcript();
    this.parser = new SmtpReplyParser(options.parserLimits);
    this.attach(socket);
    if (options.signal?.aborted) this.onAbort();
    else options.signal?.addEventListener('abort', this.onAbort, { once: true });
  }

  get tls(): TLSSocket | null {
    return this.inTls ? (this.socket as TLSSocket) : null;
  }

  /** Marks the session as already inside TLS (implicit TLS on 465: the socket passed in is a TLSSocket). */
  useTlsSocket(socket: TLSSocket): void {
    this.detach(this.socket);
    this.socket = socket;
    this.sockets.push(socket);
    this.inTls = true;
    this.parser = new SmtpReplyParser(this.options.parserLimits);
    this.attach(socket);
  }

  note(event: string): void {
    this.transcript.add(`* ${event}`);
  }

  async readReply(phase: string): Promise<SmtpReply> {
    const queued = this.queue.shift();
    if (queued) return queued;
    if (this.ended) throw this.ended;
    const budget = Math.min(this.options.replyTimeoutMs, this.options.deadline - Date.now());
    if (budget <= 0) throw new SmtpClientError('timeout', `no time left to wait for the ${phase} reply`);
    return new Promise<SmtpReply>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.waiter = null;
        const pending = this.parser.pendingBytes;
        reject(new SmtpClientError('timeout', `no complete ${phase} reply within ${budget} ms${pending ? ` (${pending} bytes of an incomplete reply received)` : ''}`));
      }, budget);
      this.waiter = {
        resolve: (r) => {
          clearTimeout(timer);
          resolve(r);
        },
        reject: (e) => {
          clearTimeout(timer);
          reject(e);
        },
      };
    });
  }

  send(line: string): void {
    if (this.ended) return;
    this.transcript.add(`${this.inTls ? 'C[tls]' : 'C'}: ${line}`);
    this.socket.write(`${line}\r\n`);
  }

  async command(line: string, phase: string): Promise<SmtpReply> {
    if (this.ended) throw this.ended;
    // A reply that arrived before we asked is out of turn; it must not be taken as this command's answer.
    if (this.queue.length) throw this.protocolError(`server sent a reply before the ${phase} command`);
    this.send(line);
    return this.readReply(phase);
  }

  async ehlo(name: string, phase: 'ehlo' | 'ehlo2'): Promise<EhloResult> {
    const started = performance.now();
    const reply = await this.command(`EHLO ${name}`, phase);
    this.timings[phase === 'ehlo' ? 'ehloMs' : 'ehlo2Ms'] = Math.round(performance.now() - started);
    return { reply, ok: reply.code === 250, capabilities: parseEhloCapabilities(reply) };
  }

  /**
   * Sends STARTTLS; on 220 drops every plaintext byte the server sent after it (RFC 3207
   * section 4.2: anything read before the handshake may have been injected) and upgrades.
   * Returns the reply when it is not 220 (the session stays usable in plaintext).
   */
  async startTls(upgrader: TlsUpgrader, servername: string): Promise<{ reply: SmtpReply; tls: TLSSocket | null }> {
    const started = performance.now();
    const reply = await this.command('STARTTLS', 'starttls');
    this.timings.starttlsMs = Math.round(performance.now() - started);
    if (reply.code !== 220) return { reply, tls: null };
    const plain = this.socket;
    this.detach(plain);
    const dropped = this.parser.discard() + this.queue.splice(0).reduce((n, r) => n + r.raw.join('\r\n').length + 2, 0);
    if (dropped > 0) this.note(`discarded ${dropped} bytes of plaintext sent after the STARTTLS 220 (RFC 3207)`);
    const hs = performance.now();
    // Bounded like a reply: a handshake the server never answers must end the same way whatever
    // is left of the check's deadline, not race it.
    const deadline = Math.min(this.options.deadline, Date.now() + this.options.replyTimeoutMs);
    const tlsSocket = await upgrader.upgrade(plain, { servername, deadline, signal: this.options.signal });
    this.timings.tlsHandshakeMs = Math.round(performance.now() - hs);
    this.note(`TLS established: ${tlsSocket.getProtocol() ?? '?'} ${tlsSocket.getCipher()?.name ?? '?'}`);
    this.useTlsSocket(tlsSocket);
    return { reply, tls: tlsSocket };
  }

  /** Polite goodbye, bounded to a second: the result never waits on a server's QUIT handling. */
  async quit(): Promise<void> {
    if (this.ended) return;
    try {
      this.send('QUIT');
      const budget = Math.min(1000, this.options.deadline - Date.now());
      if (budget > 0) {
        await Promise.race([this.readReply('quit'), new Promise((r) => setTimeout(r, budget).unref())]);
      }
    } catch {
      // A server that hangs up on QUIT has done what we asked.
    }
  }

  close(): void {
    this.options.signal?.removeEventListener('abort', this.onAbort);
    this.end(SESSION_CLOSED, true);
  }

  private attach(s: Socket): void {
    s.on('data', this.onData);
    s.on('error', this.onError);
    s.on('close', this.onClose);
  }

  private detach(s: Socket): void {
    s.removeListener('data', this.onData);
    s.removeListener('error', this.onError);
    s.removeListener('close', this.onClose);
    // A detached socket may still error (e.g. reset during the handshake); that must not crash us.
    s.on('error', () => undefined);
  }

  private readonly onData = (chunk: Buffer) => {
    for (const ev of this.parser.push(chunk)) {
      if (ev.type === 'error') {
        this.end(new SmtpClientError('protocol', `unintelligible reply: ${ev.error.message}: ${ev.error.excerpt}`, ev.error), true);
        return;
      }
      for (const raw of ev.reply.raw) this.transcript.add(`${this.inTls ? 'S[tls]' : 'S'}: ${raw}`);
      if (this.waiter) {
        const w = this.waiter;
        this.waiter = null;
        w.resolve(ev.reply);
      } else {
        this.queue.push(ev.reply);
        if (this.queue.length > (this.options.maxQueuedReplies ?? 8)) {
          this.end(this.protocolError('server keeps sending replies nobody asked for'), true);
          return;
        }
      }
    }
  };

  private readonly onError = (err: NodeJS.ErrnoException) => {
    this.end(new SmtpClientError('socket', `${err.code ?? 'socket error'}: ${err.message}`), true);
  };

  private readonly onClose = () => {
    if (this.ended) return;
    const pending = this.parser.pendingBytes;
    this.end(new SmtpClientError('closed', `connection closed by the server${pending ? ` in the middle of a reply (${pending} bytes)` : ''}`), false);
  };

  private protocolError(message: string): SmtpClientError {
    return new SmtpClientError('protocol', message);
  }

  private end(error: SmtpClientError, destroy: boolean): void {
    if (!this.ended) {
      this.ended = error;
      if (error !== SESSION_CLOSED) this.note(error.message);
    }
    if (destroy) for (const s of this.sockets) s.destroy();
    const w = this.waiter;
    this.waiter = null;
    // Replies that arrived before the end are still delivered in order by readReply.
    if (w && this.queue.length === 0) w.reject(this.ended);
    else if (w) w.resolve(this.queue.shift()!);
  }
}
