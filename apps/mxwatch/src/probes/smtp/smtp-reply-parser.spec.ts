import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { SmtpReplyParser, type SmtpParserEvent, type SmtpParserLimits, sanitizeForDisplay } from './smtp-reply-parser.js';

const b = (s: string | Buffer) => (typeof s === 'string' ? Buffer.from(s, 'latin1') : s);
const replies = (events: SmtpParserEvent[]) => events.flatMap((e) => (e.type === 'reply' ? [e.reply] : []));
const errors = (events: SmtpParserEvent[]) => events.flatMap((e) => (e.type === 'error' ? [e.error] : []));

describe(SmtpReplyParser.name, () => {
  it('should parse a single-line reply', () => {
    const p = new SmtpReplyParser();
    const [r] = replies(p.push(b('220 mx.example.com ESMTP Postfix\r\n')));
    expect(r).toEqual({ code: 220, lines: ['mx.example.com ESMTP Postfix'], raw: ['220 mx.example.com ESMTP Postfix'] });
  });

  it('should join multi-line replies and keep STARTTLS when it is the last line', () => {
    const p = new SmtpReplyParser();
    const ev = p.push(b('250-mx.example.com\r\n250-PIPELINING\r\n250-SIZE 10240000\r\n250 STARTTLS\r\n'));
    expect(replies(ev)).toEqual([
      {
        code: 250,
        lines: ['mx.example.com', 'PIPELINING', 'SIZE 10240000', 'STARTTLS'],
        raw: ['250-mx.example.com', '250-PIPELINING', '250-SIZE 10240000', '250 STARTTLS'],
      },
    ]);
  });

  it('should assemble replies split at any byte boundary', () => {
    const wire = '220-first\r\n220 second\r\n250 ok\r\n';
    for (let cut = 1; cut < wire.length; cut++) {
      const p = new SmtpReplyParser();
      const ev = [...p.push(b(wire.slice(0, cut))), ...p.push(b(wire.slice(cut)))];
      expect(errors(ev)).toEqual([]);
      expect(replies(ev).map((r) => r.code)).toEqual([220, 250]);
    }
  });

  it('should tolerate bare LF line ends and a code without text', () => {
    const p = new SmtpReplyParser();
    const ev = p.push(b('250-a\n250-b\n250\n'));
    expect(replies(ev)).toEqual([{ code: 250, lines: ['a', 'b', ''], raw: ['250-a', '250-b', '250'] }]);
  });

  it('should return several replies from one chunk in order', () => {
    const p = new SmtpReplyParser();
    expect(replies(p.push(b('220 ready\r\n250 injected\r\n'))).map((r) => r.code)).toEqual([220, 250]);
  });

  it('should decode UTF-8 text of SMTPUTF8 servers', () => {
    const p = new SmtpReplyParser();
    expect(replies(p.push(Buffer.from('220 Grüße\r\n', 'utf8')))[0]!.lines).toEqual(['Grüße']);
  });

  it('should report a non-digit code as invalid_code', () => {
    const p = new SmtpReplyParser();
    expect(errors(p.push(b('HTTP/1.1 400 Bad Request\r\n')))[0]!.kind).toBe('invalid_code');
  });

  it('should report a code outside 2xx-5xx as invalid_code', () => {
    expect(errors(new SmtpReplyParser().push(b('120 wait\r\n')))[0]!.kind).toBe('invalid_code');
    expect(errors(new SmtpReplyParser().push(b('25\r\n')))[0]!.kind).toBe('invalid_code');
  });

  it('should report mismatched codes between lines as code_mismatch', () => {
    const p = new SmtpReplyParser();
    const ev = p.push(b('250-a\r\n251 b\r\n'));
    expect(errors(ev)[0]!.kind).toBe('code_mismatch');
    expect(replies(ev)).toEqual([]);
  });

  it('should report a missing separator after the code', () => {
    expect(errors(new SmtpReplyParser().push(b('250OK\r\n')))[0]!.kind).toBe('missing_separator');
  });

  it('should report NUL and control characters as binary_data', () => {
    expect(errors(new SmtpReplyParser().push(b('220 a\x00b\r\n')))[0]!.kind).toBe('binary_data');
    expect(errors(new SmtpReplyParser().push(b('220 a\x1bb\r\n')))[0]!.kind).toBe('binary_data');
    expect(errors(new SmtpReplyParser().push(b('220 a\rb\r\n')))[0]!.kind).toBe('binary_data');
  });

  it('should fail fast on binary garbage that has no line end', () => {
    const p = new SmtpReplyParser();
    const ev = p.push(Buffer.from([0x16, 0x03, 0x01, 0x00, 0xa5]));
    expect(errors(ev)[0]!.kind).toBe('binary_data');
    expect(p.pendingBytes).toBe(0);
  });

  it('should fail fast on text garbage before its line ends', () => {
    expect(errors(new SmtpReplyParser().push(b('SSH-2.0-OpenSSH')))[0]!.kind).toBe('invalid_code');
    expect(errors(new SmtpReplyParser().push(b('220x')))[0]!.kind).toBe('missing_separator');
  });

  it('should wait for more data when a partial line still looks valid', () => {
    const p = new SmtpReplyParser();
    expect(p.push(b('22'))).toEqual([]);
    expect(p.push(b('0 slow'))).toEqual([]);
    expect(p.pendingBytes).toBe(8);
    expect(replies(p.push(b('\r\n')))[0]!.code).toBe(220);
  });

  it('should report line_too_long without buffering more than the limit', () => {
    const p = new SmtpReplyParser({ maxLineLength: 100 });
    let ev: SmtpParserEvent[] = [];
    for (let i = 0; i < 50 && errors(ev).length === 0; i++) ev = p.push(b(`${i === 0 ? '220 ' : ''}${'x'.repeat(30)}`));
    expect(errors(ev)[0]!.kind).toBe('line_too_long');
    expect(p.pendingBytes).toBe(0);
  });

  it('should report line_too_long for a complete overlong line', () => {
    expect(errors(new SmtpReplyParser({ maxLineLength: 10 }).push(b('250 0123456789\r\n')))[0]!.kind).toBe('line_too_long');
  });

  it('should report too_many_lines for an endless multi-line reply', () => {
    const p = new SmtpReplyParser({ maxLinesPerReply: 5 });
    const ev = p.push(b('250-x\r\n'.repeat(6)));
    expect(errors(ev)[0]!.kind).toBe('too_many_lines');
  });

  it('should report reply_too_large when the lines add up past the byte limit', () => {
    const p = new SmtpReplyParser({ maxReplyBytes: 100 });
    const ev = p.push(b(`250-${'y'.repeat(40)}\r\n`.repeat(3)));
    expect(errors(ev)[0]!.kind).toBe('reply_too_large');
  });

  it('should ignore input after an error and never throw', () => {
    const p = new SmtpReplyParser();
    p.push(b('garbage\r\n'));
    expect(p.push(b('220 fine\r\n'))).toEqual([]);
    expect(p.failure?.kind).toBe('invalid_code');
  });

  it('should discard buffered data and report how much', () => {
    const p = new SmtpReplyParser();
    p.push(b('250-part\r\n250 inj'));
    expect(p.discard()).toBe(17);
    expect(p.pendingBytes).toBe(0);
    expect(replies(p.push(b('220 clean\r\n')))[0]!.lines).toEqual(['clean']);
  });

  it('should keep excerpts printable', () => {
    expect(sanitizeForDisplay('a\x00b\r\n', 50)).toBe('a\\x00b\\x0d\\x0a');
    expect(sanitizeForDisplay('z'.repeat(10), 4)).toBe('zzzz…');
  });

  it('should accept a legal 4,096-byte line whether CR and LF arrive together or apart', () => {
    const line = `250 ${'x'.repeat(4092)}`;
    expect(line.length).toBe(4096);
    const together = new SmtpReplyParser();
    expect(replies([...together.push(b(line)), ...together.push(b('\r\n'))])[0]!.raw).toEqual([line]);
    const apart = new SmtpReplyParser();
    const ev = [...apart.push(b(`${line}\r`)), ...apart.push(b('\n'))];
    expect(errors(ev)).toEqual([]);
    expect(replies(ev)[0]!.raw).toEqual([line]);
  });

  it('should still refuse a 4,097-byte line when its CR arrives alone', () => {
    const p = new SmtpReplyParser();
    const ev = [...p.push(b(`250 ${'x'.repeat(4093)}`)), ...p.push(b('\r')), ...p.push(b('\n'))];
    expect(errors(ev)[0]!.kind).toBe('line_too_long');
  });

  it('should judge a CR followed by more text as binary data in whichever segment the text arrives', () => {
    const p = new SmtpReplyParser();
    expect(p.push(b('220 a\r'))).toEqual([]);
    expect(errors(p.push(b('b\r\n')))[0]!.kind).toBe('binary_data');
  });

  describe('whatever the segmentation', () => {
    const longLine = (n: number) => `250 ${'L'.repeat(Math.max(0, n - 4))}`;
    const piece = fc.oneof(
      fc.constantFrom('220 mx.example.com ESMTP\r\n', '250-PIPELINING\r\n', '250 STARTTLS\r\n', '250\n', '250-a\n', '220 Grüße\r\n', '354 go\r\r\n'),
      fc.integer({ min: 4090, max: 4098 }).map((n) => `${longLine(n)}\r\n`),
      fc.integer({ min: 4090, max: 4098 }).map((n) => `${longLine(n)}\r\r\n`),
      fc.constantFrom('HTTP/1.1 400 Bad\r\n', '220 a\x00b\r\n', '220 a\rb\r\n', '250OK\r\n', '25\r\n', '251 other\r\n', '\x16\x03\x01', '120 wait\r\n', '\r\n'),
      fc.string({ maxLength: 12 }),
    );
    const stream = fc.array(piece, { maxLength: 12 }).map((parts) => Buffer.from(parts.join(''), 'utf8'));
    const limits = fc.record({
      maxLineLength: fc.constant(4096),
      maxLinesPerReply: fc.integer({ min: 1, max: 6 }),
      maxReplyBytes: fc.integer({ min: 20, max: 20_000 }),
    });

    const outcome = (input: Buffer, cuts: number[], l: SmtpParserLimits) => {
      const p = new SmtpReplyParser(l);
      const points = [...new Set(cuts.map((c) => c % (input.length + 1)))].sort((x, y) => x - y);
      const events: SmtpParserEvent[] = [];
      let from = 0;
      for (const at of [...points, input.length]) {
        events.push(...p.push(input.subarray(from, at)));
        from = at;
      }
      return {
        replies: replies(events),
        errors: errors(events).map(({ kind, message }) => ({ kind, message })),
        failure: p.failure?.kind ?? null,
        pending: p.pendingBytes,
      };
    };

    it('should give the same replies and error as one segment', () => {
      fc.assert(
        fc.property(stream, fc.array(fc.nat(), { maxLength: 30 }), limits, (input, cuts, l) => {
          expect(outcome(input, cuts, l)).toEqual(outcome(input, [], l));
        }),
        { numRuns: 300 },
      );
    });

    it('should give the same replies and error as one byte at a time', () => {
      fc.assert(
        fc.property(stream, limits, (input, l) => {
          const everyByte = Array.from({ length: input.length }, (_, i) => i);
          expect(outcome(input, everyByte, l)).toEqual(outcome(input, [], l));
        }),
        { numRuns: 100 },
      );
    });
  });
});
