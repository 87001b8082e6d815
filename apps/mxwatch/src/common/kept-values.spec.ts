import { describe, expect, it } from 'vitest';
import { flat, flattenStrings } from './kept-values.js';

describe('flat strings', () => {
  it('should change no value: the same string, the same objects, whatever they hold', () => {
    const host = 'mx1.example';
    expect(flat(`${host}[192.0.2.1]:${25}`)).toBe('mx1.example[192.0.2.1]:25');
    expect(flat('')).toBe('');
    expect(flat('\u{1F600}x')).toBe('\u{1F600}x');
    const value = { target: `${host}[${'192.0.2.1'}]:${587}`, list: ['a' + host, 1, null], map: new Map([[`k${1}`, { s: `v${2}` }]]), set: new Set([`m${3}`]), at: new Date(0), bytes: new Uint8Array([120, 121]) };
    const copy = structuredClone(value);
    flattenStrings(value);
    expect(value).toEqual(copy);
  });

  it('should stop on cycles and after maxNodes values', () => {
    const a: Record<string, unknown> = { name: 'a' };
    a.self = a;
    a.list = [a, { back: a }];
    flattenStrings(a);
    const long = Array.from({ length: 100_000 }, (_, i) => `s${i}`);
    flattenStrings(long, 10);
    expect(long[99_999]).toBe('s99999');
  });
});
