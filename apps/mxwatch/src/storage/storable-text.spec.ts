import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { fromStorableText, toStorable, toStorableText } from './storable-text.js';

describe(toStorableText.name, () => {
  it('should leave ordinary text as it is', () => {
    expect(toStorableText('mx.example.com 220 Grüße')).toBe('mx.example.com 220 Grüße');
  });

  it('should show a NUL as U+2400 and escape a U+2400 that was there', () => {
    expect(toStorableText('a\u0000b')).toBe('a\u2400b');
    expect(toStorableText('a\u2400b\u0000')).toBe('a\u238b\u2400b\u2400');
  });

  it('should replace unpaired surrogates and keep pairs', () => {
    expect(toStorableText('x\ud800y\udc00z 😀')).toBe('x\ufffdy\ufffdz 😀');
  });

  it('should give back the original of any well-formed text, so finding targets still match', () => {
    fc.assert(
      fc.property(fc.string({ unit: fc.constantFrom('a', '.', '\u0000', '\u2400', '\u238b', 'é') }), (s) => {
        const stored = toStorableText(s);
        expect(stored).not.toContain('\u0000');
        expect(fromStorableText(stored)).toBe(s);
      }),
    );
  });
});

describe(toStorable.name, () => {
  it('should clean every string of a nested value, keys included, and keep other leaves', () => {
    const when = new Date(0);
    expect(toStorable({ 'k\u0000': ['\u0000', 1, null, true, { when, deep: 'x\u0000' }] })).toEqual({ 'k\u2400': ['\u2400', 1, null, true, { when, deep: 'x\u2400' }] });
  });

  it('should copy only what holds a string that needs work, and leave the value it was given untouched', () => {
    const clean = { a: ['x', { b: 'y' }], c: { d: 1 } };
    expect(toStorable(clean)).toBe(clean);
    const value = { a: ['x', { b: 'y\u0000' }], c: { d: 1 }, e: ['z'] };
    const out = toStorable(value);
    expect(out).toEqual({ a: ['x', { b: 'y\u2400' }], c: { d: 1 }, e: ['z'] });
    expect(value.a[1]).toEqual({ b: 'y\u0000' });
    expect(out).not.toBe(value);
    expect(out.a).not.toBe(value.a);
    // Untouched branches are shared, not copied.
    expect(out.c).toBe(value.c);
    expect(out.e).toBe(value.e);
    // A key alone can need work.
    expect(toStorable({ 'k\u0000': 1, m: 2 })).toEqual({ 'k\u2400': 1, m: 2 });
    // Keys before the first that needs work are copied, in their order.
    expect(Object.entries(toStorable({ a: 1, b: 'x', 'k\u0000': 2, z: 3 }))).toEqual([['a', 1], ['b', 'x'], ['k\u2400', 2], ['z', 3]]);
  });
});
