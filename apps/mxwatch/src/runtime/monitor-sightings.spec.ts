import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import type { FindingDraft } from '../findings/findings.rules.js';
import { MonitorSightings } from './monitor-sightings.js';

const draft = (why = 'no AD bit'): FindingDraft => ({
  code: 'MONITOR_RESOLVER_NOT_VALIDATING',
  severity: 'warning',
  probe: 'dnssec',
  target: 'resolver',
  message: 'The DNS resolver mxwatch uses does not validate DNSSEC',
  remediation: 'Point MXWATCH_DNS_SERVERS at a validating resolver',
  evidence: { why },
  scope: 'monitor',
});

/** The row as the writes left it: sightings counted, the latest time. */
function fakeRow(open = true) {
  const row = { open, seenCount: 0, lastSeenAt: new Date(0), writes: 0, fail: false, evidence: null as unknown };
  const write = async (_id: string, d: FindingDraft, count: number, at: Date) => {
    row.writes++;
    if (row.fail) throw new Error('connection refused');
    if (!row.open) return false;
    row.seenCount += count;
    if (at > row.lastSeenAt) row.lastSeenAt = at;
    row.evidence = d.evidence;
    return true;
  };
  return { row, write };
}

describe(MonitorSightings.name, () => {
  beforeEach(() => {
    vi.useFakeTimers({ now: new Date('2026-06-01T12:00:00Z') });
  });
  afterEach(() => {
    vi.useRealTimers();
  });

  it('should write the first sighting at once and the rest of the second together, none lost', async () => {
    const { row, write } = fakeRow();
    const s = new MonitorSightings(write, 1000);
    for (let i = 0; i < 100; i++) {
      expect(await s.seen('f1', draft(), new Date(Date.UTC(2026, 5, 1, 12, 0, 0, i)))).toBe(true);
      vi.advanceTimersByTime(5);
    }
    // 100 runs in half a second: one write, the other 99 held.
    expect(row).toMatchObject({ writes: 1, seenCount: 1 });
    expect(s.unwritten).toBe(99);
    await vi.advanceTimersByTimeAsync(1000);
    expect(row).toMatchObject({ writes: 2, seenCount: 100, lastSeenAt: new Date(Date.UTC(2026, 5, 1, 12, 0, 0, 99)) });
    expect(s.unwritten).toBe(0);
  });

  it('should write at once a sighting whose evidence changed', async () => {
    const { row, write } = fakeRow();
    const s = new MonitorSightings(write, 1000);
    await s.seen('f1', draft('no AD bit'), new Date());
    await s.seen('f1', draft('no AD bit'), new Date());
    await s.seen('f1', draft('SERVFAIL for the canary'), new Date());
    expect(row).toMatchObject({ writes: 2, seenCount: 3, evidence: { why: 'SERVFAIL for the canary' } });
  });

  it('should say at the next write that the finding is no longer open, so the run plans under the lock', async () => {
    const { row, write } = fakeRow();
    const s = new MonitorSightings(write, 1000);
    expect(await s.seen('f1', draft(), new Date())).toBe(true);
    row.open = false; // another process's run resolved it
    expect(await s.seen('f1', draft(), new Date())).toBe(true); // inside the window: held
    await vi.advanceTimersByTimeAsync(1000);
    expect(row.writes).toBe(2);
    expect(await s.seen('f1', draft(), new Date())).toBe(false);
  });

  it('should keep what a failed write held and write it with the next sighting', async () => {
    const { row, write } = fakeRow();
    const errors: unknown[] = [];
    const s = new MonitorSightings(write, 1000, (e) => errors.push(e));
    await s.seen('f1', draft(), new Date());
    await s.seen('f1', draft(), new Date());
    await s.seen('f1', draft(), new Date());
    row.fail = true;
    await vi.advanceTimersByTimeAsync(1000);
    expect(errors).toHaveLength(1);
    expect(s.unwritten).toBe(2);
    row.fail = false;
    await s.seen('f1', draft(), new Date());
    expect(row.seenCount).toBe(4);
    // A failed direct write throws to the run, and is not lost either.
    row.fail = true;
    vi.advanceTimersByTime(1000);
    await expect(s.seen('f1', draft(), new Date())).rejects.toThrow('connection refused');
    row.fail = false;
    await s.seen('f1', draft(), new Date());
    expect(row.seenCount).toBe(6);
  });

  it('should write what it holds on close, and every later sighting at once', async () => {
    const { row, write } = fakeRow();
    const s = new MonitorSightings(write, 1000);
    await s.seen('f1', draft(), new Date());
    await s.seen('f1', draft(), new Date());
    await s.close();
    expect(row).toMatchObject({ writes: 2, seenCount: 2 });
    await s.seen('f1', draft(), new Date());
    expect(row).toMatchObject({ writes: 3, seenCount: 3 });
  });

  it('should lose no sighting when runs finish together while the first writes are under way', async () => {
    const { row, write } = fakeRow();
    const gates: Array<() => void> = [];
    const s = new MonitorSightings(async (...args) => {
      await new Promise<void>((r) => gates.push(r));
      return write(...args);
    }, 1000);
    // Two runs write at once (nothing held yet); the first finishes, a third run holds its
    // sighting, and only then does the second write finish.
    const a = s.seen('f1', draft(), new Date());
    const b = s.seen('f1', draft(), new Date());
    gates[0]!();
    await a;
    await s.seen('f1', draft(), new Date());
    gates[1]!();
    await b;
    const flushed = s.flushAll();
    await vi.advanceTimersByTimeAsync(0);
    gates[2]!();
    await flushed;
    expect(row.seenCount).toBe(3);
  });

  it('should wait for a write under way when asked to flush', async () => {
    let release!: () => void;
    let writes = 0;
    const s = new MonitorSightings(
      async (_id, _d, count) => {
        writes += count;
        if (writes > 1) await new Promise<void>((r) => (release = r));
        return true;
      },
      1000,
    );
    await s.seen('f1', draft(), new Date());
    await s.seen('f1', draft(), new Date());
    vi.advanceTimersByTime(1000); // the timer's write starts and waits
    let flushed = false;
    const flush = s.flushAll().then(() => (flushed = true));
    await vi.advanceTimersByTimeAsync(0);
    expect(flushed).toBe(false);
    release();
    await flush;
    expect(writes).toBe(2);
  });
});
