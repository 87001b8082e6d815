import { describe, expect, it } from 'vitest';
import { DomainChangeWatch } from './domain-changes.js';

describe(DomainChangeWatch.name, () => {
  const horizon = 15 * 60_000;
  function watch() {
    let now = 1_000_000;
    const w = new DomainChangeWatch(horizon, () => now);
    return { w, at: () => now, advance: (ms: number) => (now += ms) };
  }

  it('should trust a job only once listening, and only one claimed after the subscription came up (by the one Redis clock)', () => {
    const { w, at, advance } = watch();
    expect(w.trusts('a.example', at())).toBe(false);
    const since = at();
    w.up(since);
    advance(60_000);
    // Claimed before the subscription came up: a change announced in between may have been missed.
    expect(w.trusts('a.example', since - 1)).toBe(false);
    // The same millisecond may be before: Redis's clock has no finer steps.
    expect(w.trusts('a.example', since)).toBe(false);
    expect(w.trusts('a.example', since + 1)).toBe(true);
    expect(w.trusts('a.example', since + 30_000)).toBe(true);
  });

  it('should read for a domain changed within the horizon, whenever its job was claimed, and trust it again after', () => {
    const { w, at, advance } = watch();
    w.up(at());
    advance(1);
    const claimed = at();
    w.note('a.example');
    expect(w.trusts('a.example', claimed)).toBe(false);
    expect(w.trusts('b.example', claimed)).toBe(true);
    // A change heard before a job was claimed also makes it read: changes are rare, reading is cheap.
    advance(10 * 60_000);
    expect(w.trusts('a.example', at())).toBe(false);
    advance(horizon);
    expect(w.trusts('a.example', at())).toBe(true);
  });

  it('should read for a job that waited longer than the horizon', () => {
    const { w, at, advance } = watch();
    w.up(at());
    advance(1);
    const claimed = at();
    advance(horizon + 1);
    expect(w.trusts('a.example', claimed)).toBe(false);
  });

  it('should trust no job claimed before a subscription that went down came up again', () => {
    const { w, at, advance } = watch();
    w.up(at());
    advance(1_000);
    const before = at();
    w.down();
    expect(w.listening).toBe(false);
    expect(w.trusts('a.example', before)).toBe(false);
    advance(1_000);
    w.up(at());
    expect(w.trusts('a.example', before)).toBe(false);
    advance(1);
    expect(w.trusts('a.example', at())).toBe(true);
  });

  it('should forget changes past the horizon when many domains changed at once', () => {
    const { w, at, advance } = watch();
    w.up(at());
    for (let i = 0; i < 1_001; i++) w.note(`d${i}.example`);
    advance(horizon + 1);
    w.note('late.example');
    expect((w as unknown as { changed: Map<string, number> }).changed.size).toBe(1);
    expect(w.trusts('d0.example', at())).toBe(true);
    expect(w.trusts('late.example', at())).toBe(false);
  });

  it('should keep a name heard again when older ones are forgotten', () => {
    const { w, at, advance } = watch();
    w.up(at());
    for (let i = 0; i < 1_001; i++) w.note(`d${i}.example`);
    advance(horizon / 2);
    w.note('d0.example');
    advance(horizon / 2 + 1);
    w.note('late.example');
    expect((w as unknown as { changed: Map<string, number> }).changed.size).toBe(2);
    expect(w.trusts('d0.example', at())).toBe(false);
    expect(w.trusts('d1.example', at())).toBe(true);
  });
});
