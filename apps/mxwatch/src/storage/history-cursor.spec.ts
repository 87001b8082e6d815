import { describe, expect, it } from 'vitest';
import { decodeCursor, encodeCursor } from './history-cursor.js';

const b64 = (text: string) => Buffer.from(text, 'utf8').toString('base64url');

describe('history cursor', () => {
  it('should round-trip the (startedAt, id) of a row to the millisecond', () => {
    const startedAt = new Date('2026-03-04T05:06:07.089Z');
    expect(decodeCursor(encodeCursor(startedAt, 42n))).toEqual({ startedAt, id: 42n });
  });

  it('should carry the largest id PostgreSQL can hold exactly', () => {
    const max = 9223372036854775807n;
    expect(decodeCursor(encodeCursor(new Date(0), max))?.id).toBe(max);
  });

  it('should be URL-safe without escaping', () => {
    const c = encodeCursor(new Date('2026-12-31T23:59:59.999Z'), 123456789012345n);
    expect(c).toMatch(/^[A-Za-z0-9_-]+$/);
    expect(encodeURIComponent(c)).toBe(c);
  });

  it.each([
    ['an empty string', ''],
    ['random text', 'not-a-cursor'],
    ['characters outside base64url', '!!!***'],
    ['a date without an id', b64('2026-03-04T05:06:07.089Z')],
    ['an id without a date', b64('|42')],
    ['a date without milliseconds', b64('2026-03-04T05:06:07Z|42')],
    ['an impossible month', b64('2026-13-04T05:06:07.089Z|42')],
    ['a negative id', b64('2026-03-04T05:06:07.089Z|-1')],
    ['a fractional id', b64('2026-03-04T05:06:07.089Z|1.5')],
    ['an id longer than 19 digits', b64('2026-03-04T05:06:07.089Z|12345678901234567890')],
    ['an id above the bigint range of PostgreSQL', b64('2026-03-04T05:06:07.089Z|9223372036854775808')],
    ['trailing data', b64('2026-03-04T05:06:07.089Z|42|x')],
  ])('should refuse %s', (_what, cursor) => {
    expect(decodeCursor(cursor)).toBeNull();
  });
});
