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

function isForbiddenByte(b: number): boolean {
  // Tab is tolerated (some banners use it); bytes >= 0x80 are UTF-8 text of SMTPUTF8 servers.
  return (b < 0x20 && b !== 0x09) || b === 0x7f;
}

const DIGIT_0 = 0x30;
const DIGIT_2 = 0x32;
const DIGIT_5 = 0x35;
const DIGIT_9 = 0x39;
const SPACE = 0x20;
const HYPHEN = 0x2d;
/** Bytes of the offending line kept as evidence, beyond what is needed to show the fault. */
const EXCERPT_BYTES = 160;

/**
 * The parser is a byte-level state machine: every verdict is taken at the byte that decides it,
 * from the bytes before it only, with one fixed order when one byte breaks several rules. So the
 * replies and the error are the same however the stream is cut into segments (a 4,096-byte line
 * whose CR and LF arrive apart is as legal as one whose CRLF arrives together). Only the error's
 * excerpt depends on the segments: it shows as much of the line as had arrived.
 */
export class SmtpReplyParser {
  private readonly limits: SmtpParserLimits;
  private readonly line: Buffer;
  /** Body bytes of the line being received (line end excluded). */
  private lineLength = 0;
  /** CRs received after the body that are a line end if an LF follows, and binary data otherwise. */
  private pendingCr = 0;
  private current: SmtpReply | null = null;
  /** Wire bytes (line ends included) of the finished lines of the current multi-line reply. */
  private currentBytes = 0;
  private error: SmtpParseError | null = null;

  constructor(limits: Partial<SmtpParserLimits> = {}) {
    this.limits = { ...DEFAULT_SMTP_PARSER_LIMITS, ...limits };
    this.line = Buffer.alloc(this.limits.maxLineLength);
  }

  /** The error that stopped the parser; once set, further input is ignored. */
  get failure(): SmtpParseError | null {
    return this.error;
  }

  /** Bytes received that do not yet form a complete reply. */
  get pendingBytes(): number {
    return this.currentBytes + this.lineLength + this.pendingCr;
  }

  /** Drops everything buffered (RFC 3207: plaintext after the STARTTLS 220 must not be used). Returns how many bytes were dropped. */
  discard(): number {
    const dropped = this.pendingBytes;
    this.resetLine();
    this.current = null;
    this.currentBytes = 0;
    return dropped;
  }

  push(chunk: Buffer): SmtpParserEvent[] {
    const events: SmtpParserEvent[] = [];
    if (this.error) return events;
    for (let i = 0; i < chunk.length; i++) {
      const b = chunk[i]!;
      const kind = b === LF ? this.endOfLine(events) : b === CR ? this.carriageReturn() : this.bodyByte(b);
      if (kind) {
        this.fail(kind, chunk, i, events);
        return events;
      }
    }
    return events;
  }

  private lineWireBytes(): number {
    return this.lineLength + this.pendingCr;
  }

  private carriageReturn(): SmtpParseErrorKind | null {
    if (this.currentBytes + this.lineWireBytes() + 1 > this.limits.maxReplyBytes) return 'reply_too_large';
    this.pendingCr++;
    return null;
  }

  private bodyByte(b: number): SmtpParseErrorKind | null {
    if (this.pendingCr > 0) {
      // The CRs were not a line end: they are body bytes, judged at the first of them.
      if (this.lineLength + 1 > this.limits.maxLineLength) return 'line_too_long';
      return 'binary_data';
    }
    const at = this.lineLength;
    if (at + 1 > this.limits.maxLineLength) return 'line_too_long';
    if (isForbiddenByte(b)) return 'binary_data';
    if (at === 0 && (b < DIGIT_2 || b > DIGIT_5)) return 'invalid_code';
    if ((at === 1 || at === 2) && (b < DIGIT_0 || b > DIGIT_9)) return 'invalid_code';
    if (at === 3 && b !== SPACE && b !== HYPHEN) return 'missing_separator';
    if (at === 2 && this.current && this.current.code !== this.code(b)) return 'code_mismatch';
    if (at === 0 && (this.current?.lines.length ?? 0) + 1 > this.limits.maxLinesPerReply) return 'too_many_lines';
    if (this.currentBytes + this.lineWireBytes() + 1 > this.limits.maxReplyBytes) return 'reply_too_large';
    this.line[this.lineLength++] = b;
    return null;
  }

  private code(thirdDigit: number): number {
    return (this.line[0]! - DIGIT_0) * 100 + (this.line[1]! - DIGIT_0) * 10 + (thirdDigit - DIGIT_0);
  }

  private endOfLine(events: SmtpParserEvent[]): SmtpParseErrorKind | null {
    if (this.lineLength < 3) return 'invalid_code';
    const wire = this.lineWireBytes() + 1;
    if (this.currentBytes + wire > this.limits.maxReplyBytes) return 'reply_too_large';
    const text = this.line.toString('utf8', 0, this.lineLength);
    const reply = this.current ?? { code: Number(text.slice(0, 3)), lines: [], raw: [] };
    reply.lines.push(text.slice(4));
    reply.raw.push(text);
    this.resetLine();
    if (text[3] === '-') {
      this.current = reply;
      this.currentBytes += wire;
      return null;
    }
    this.current = null;
    this.currentBytes = 0;
    events.push({ type: 'reply', reply });
    return null;
  }

  private resetLine(): void {
    this.lineLength = 0;
    this.pendingCr = 0;
  }

  /** The line as far as it arrived, with what is left of it in this segment, as evidence. */
  private excerpt(chunk: Buffer, from: number): string {
    const seen = Buffer.concat([this.line.subarray(0, this.lineLength), Buffer.alloc(this.pendingCr, CR)]);
    const lf = chunk.indexOf(LF, from);
    const rest = chunk.subarray(from, Math.min(lf === -1 ? chunk.length : lf, from + EXCERPT_BYTES));
    return Buffer.concat([seen, rest]).toString('utf8');
  }

  private fail(kind: SmtpParseErrorKind, chunk: Buffer, at: number, events: SmtpParserEvent[]): void {
    const message = this.message(kind, chunk[at]!);
    const error: SmtpParseError = { kind, message, excerpt: sanitizeForDisplay(this.excerpt(chunk, at), 120) };
    this.error = error;
    this.resetLine();
    this.current = null;
    this.currentBytes = 0;
    events.push({ type: 'error', error });
  }

  private message(kind: SmtpParseErrorKind, offending: number): string {
    switch (kind) {
      case 'line_too_long':
        return `line longer than ${this.limits.maxLineLength} bytes`;
      case 'too_many_lines':
        return `reply longer than ${this.limits.maxLinesPerReply} lines`;
      case 'reply_too_large':
        return `reply larger than ${this.limits.maxReplyBytes} bytes`;
      case 'invalid_code':
        return 'reply does not start with a three-digit code (2xx-5xx)';
      case 'code_mismatch':
        return `line with code ${this.code(offending)} inside a ${this.current?.code} reply`;
      case 'binary_data':
        return 'control characters or NUL in reply';
      case 'missing_separator':
        return 'no space or hyphen after the reply code';
    }
  }
}
