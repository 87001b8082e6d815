/**
 * Incremental SMTP reply parser (RFC 5321 section 4.2). It is fed whatever the socket
 * delivers and never throws: a server is untrusted input, and an exception inside a socket
 * handler would take the whole monitor down. Every buffer it keeps is bounded, so a server
 * that never stops talking costs at most `maxReplyBytes` of memory.
 */

export interface SmtpReply {
  code: number;
  /** Text of each line after the code and separator. */
  lines: string[];
  /** Each line as received (without the line end), for transcripts. */
  raw: string[];
}

export type SmtpParseErrorKind =
  | 'line_too_long'
  | 'too_many_lines'
  | 'reply_too_large'
  | 'invalid_code'
  | 'code_mismatch'
  | 'binary_data'
  | 'missing_separator';

export interface SmtpParseError {
  kind: SmtpParseErrorKind;
  message: string;
  /** The offending line, sanitised and shortened, as evidence. */
  excerpt: string;
}

export type SmtpParserEvent = { type: 'reply'; reply: SmtpReply } | { type: 'error'; error: SmtpParseError };

export interface SmtpParserLimits {
  /** Bytes in one line, line end excluded. RFC 5321 allows 512 with CRLF; real servers exceed it a little. */
  maxLineLength: number;
  maxLinesPerReply: number;
  maxReplyBytes: number;
}

export const DEFAULT_SMTP_PARSER_LIMITS: SmtpParserLimits = {
  maxLineLength: 4096,
  maxLinesPerReply: 200,
  maxReplyBytes: 64 * 1024,
};

const LF = 0x0a;
const CR = 0x0d;

/** Renders untrusted bytes printable: control characters become `\xNN`, length is capped. */
export function sanitizeForDisplay(text: string, max = 200): string {
  // eslint-disable-next-line no-control-regex
  const clean = text.replace(/[\x00-\x08\x0a-\x1f\x7f]/g, (c) => `\\x${c.charCodeAt(0).toString(16).padStart(2, '0')}`);
  return clean.length > max ? `${clean.slice(0, max)}…` : clean;
}

function hasForbiddenByte(buf: Buffer): boolean {
  for (const b of buf) {
    // Tab is tolerated (some banners use it); bytes >= 0x80 are UTF-8 text of SMTPUTF8 servers.
    if ((b < 0x20 && b !== 0x09) || b === 0x7f) return true;
  }
  return false;
}

export class SmtpReplyParser {
  private readonly limits: SmtpParserLimits;
  private partial: Buffer = Buffer.alloc(0);
  private current: SmtpReply | null = null;
  private currentBytes = 0;
  private error: SmtpParseError | null = null;

  constructor(limits: Partial<SmtpParserLimits> = {}) {
    this.limits = { ...DEFAULT_SMTP_PARSER_LIMITS, ...limits };
  }

  /** The error that stopped the parser; once set, further input is ignored. */
  get failure(): SmtpParseError | null {
    return this.error;
  }

  /** Bytes received that do not yet form a complete reply. */
  get pendingBytes(): number {
    return this.partial.length + this.currentBytes;
  }

  /** Drops everything buffered (RFC 3207: plaintext after the STARTTLS 220 must not be used). Returns how many bytes were dropped. */
  discard(): number {
    const dropped = this.pendingBytes;
    this.partial = Buffer.alloc(0);
    this.current = null;
    this.currentBytes = 0;
    return dropped;
  }

  push(chunk: Buffer): SmtpParserEvent[] {
    const events: SmtpParserEvent[] = [];
    if (this.error) return events;
    let data = this.partial.length ? Buffer.concat([this.partial, chunk]) : chunk;
    this.partial = Buffer.alloc(0);
    let start = 0;
    while (start < data.length) {
      const lf = data.indexOf(LF, start);
      if (lf === -1) break;
      let end = lf;
      while (end > start && data[end - 1] === CR) end--;
      const failed = this.line(data.subarray(start, end), lf + 1 - start, events);
      if (failed) return events;
      start = lf + 1;
    }
    data = data.subarray(start);
    if (data.length > 0) {
      // Checked before the line ends so garbage without a line end fails fast and stays small.
      const early = this.checkPartial(data);
      if (early) {
        this.fail(early, events);
        return events;
      }
      this.partial = Buffer.from(data);
    }
    return events;
  }

  private checkPartial(data: Buffer): SmtpParseError | null {
    const text = data.toString('latin1');
    if (data.length > this.limits.maxLineLength) {
      return this.err('line_too_long', `line longer than ${this.limits.maxLineLength} bytes`, text);
    }
    if (this.currentBytes + data.length > this.limits.maxReplyBytes) {
      return this.err('reply_too_large', `reply larger than ${this.limits.maxReplyBytes} bytes`, text);
    }
    let body = data;
    while (body.length && body[body.length - 1] === CR) body = body.subarray(0, body.length - 1);
    if (hasForbiddenByte(body)) return this.err('binary_data', 'control characters or NUL in reply', text);
    const prefix = text.slice(0, 3);
    if (!/^\d*$/.test(prefix)) return this.err('invalid_code', 'reply does not start with a three-digit code', text);
    if (text.length >= 4 && text[3] !== ' ' && text[3] !== '-') {
      return this.err('missing_separator', 'no space or hyphen after the reply code', text);
    }
    return null;
  }

  /** Returns true when the parser failed on this line. */
  private line(buf: Buffer, wireBytes: number, events: SmtpParserEvent[]): boolean {
    const text = buf.toString('utf8');
    const error = this.validateLine(buf, text, wireBytes);
    if (error) {
      this.fail(error, events);
      return true;
    }
    const code = Number(text.slice(0, 3));
    const sep = text[3];
    if (this.current && this.current.code !== code) {
      this.fail(this.err('code_mismatch', `line with code ${code} inside a ${this.current.code} reply`, text), events);
      return true;
    }
    const reply = this.current ?? { code, lines: [], raw: [] };
    reply.lines.push(text.slice(4));
    reply.raw.push(text);
    this.currentBytes += wireBytes;
    if (sep === '-') {
      this.current = reply;
      return false;
    }
    this.current = null;
    this.currentBytes = 0;
    events.push({ type: 'reply', reply });
    return false;
  }

  private validateLine(buf: Buffer, text: string, wireBytes: number): SmtpParseError | null {
    if (buf.length > this.limits.maxLineLength) {
      return this.err('line_too_long', `line longer than ${this.limits.maxLineLength} bytes`, text);
    }
    if (hasForbiddenByte(buf)) return this.err('binary_data', 'control characters or NUL in reply', text);
    if (!/^[2-5]\d\d/.test(text)) return this.err('invalid_code', 'reply does not start with a three-digit code (2xx-5xx)', text);
    if (text.length > 3 && text[3] !== ' ' && text[3] !== '-') {
      return this.err('missing_separator', 'no space or hyphen after the reply code', text);
    }
    if ((this.current?.lines.length ?? 0) + 1 > this.limits.maxLinesPerReply) {
      return this.err('too_many_lines', `reply longer than ${this.limits.maxLinesPerReply} lines`, text);
    }
    if (this.currentBytes + wireBytes > this.limits.maxReplyBytes) {
      return this.err('reply_too_large', `reply larger than ${this.limits.maxReplyBytes} bytes`, text);
    }
    return null;
  }

  private err(kind: SmtpParseErrorKind, message: string, line: string): SmtpParseError {
    return { kind, message, excerpt: sanitizeForDisplay(line, 120) };
  }

  private fail(error: SmtpParseError, events: SmtpParserEvent[]): void {
    this.error = error;
    this.partial = Buffer.alloc(0);
    this.current = null;
    this.currentBytes = 0;
    events.push({ type: 'error', error });
  }
}
