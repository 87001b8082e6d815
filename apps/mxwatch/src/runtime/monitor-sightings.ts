import type { FindingDraft } from '../findings/findings.rules.js';

/** Records `count` sightings of the open finding `id` about the monitor, the last at `at`; false when it is no longer open. */
export type WriteSightings = (id: string, draft: FindingDraft, count: number, at: Date) => Promise<boolean>;

interface Held {
  /** What the last write stored (severity, message, remediation, evidence): a change is written at once. */
  content: string;
  writtenAt: number;
  /** Sightings since that write, not stored yet, the latest at `at` with `draft`. */
  count: number;
  at: Date;
  draft: FindingDraft;
  timer: NodeJS.Timeout | null;
  /** The write of held sightings under way, if any. */
  writing: Promise<void> | null;
}

/**
 * Sightings of open findings about the monitor (MONITOR_*: the DNSBL resolver is public, the
 * resolver does not validate DNSSEC), written at most once per `windowMs` per finding by this
 * process. Every domain's run sees such a finding again, and each sighting was an UPDATE of the
 * same row: at 100 checks a second, 100 writes a second queued on one row lock, the largest
 * share of the statements a check sent while one was open. Sightings within the window after a
 * write are counted here and written together when it ends (seenCount + n, lastSeenAt the latest);
 * a sighting whose message or evidence differs from what was written is written at once.
 *
 * What the window costs: the row's lastSeenAt may lag by up to `windowMs`, and a finding another
 * process resolved meanwhile is noticed by this one at its next write, at most `windowMs` later,
 * instead of at once (the next run then plans under the lock as before). `close` writes what is
 * held; after it every sighting is written at once.
 */
export class MonitorSightings {
  private readonly held = new Map<string, Held>();
  private closing = false;

  constructor(
    private readonly write: WriteSightings,
    private readonly windowMs = 1000,
    private readonly onError: (err: unknown) => void = () => undefined,
  ) {}

  /** One sighting; false when the finding is no longer open (the caller then plans under the lock). */
  async seen(id: string, draft: FindingDraft, at: Date): Promise<boolean> {
    const content = contentOf(draft);
    const h = this.held.get(id);
    if (h && !this.closing && h.content === content && Date.now() - h.writtenAt < this.windowMs) {
      h.count++;
      if (at > h.at) h.at = at;
      h.draft = draft;
      if (!h.timer) {
        h.timer = setTimeout(() => void this.flush(id), Math.max(0, h.writtenAt + this.windowMs - Date.now()));
        h.timer.unref();
      }
      return true;
    }
    const count = 1 + (h?.count ?? 0);
    const latest = h && h.at > at ? h.at : at;
    if (h?.timer) clearTimeout(h.timer);
    this.held.delete(id);
    let open: boolean;
    try {
      open = await this.write(id, draft, count, latest);
    } catch (err) {
      // Not stored: the next sighting writes these too (with what a concurrent one holds, if any).
      const other = this.held.get(id);
      if (other) other.count += count;
      else this.held.set(id, { content: '', writtenAt: 0, count, at: latest, draft, timer: null, writing: null });
      throw err;
    }
    const now = Date.now();
    // Episodes that resolved elsewhere and were not seen since hold nothing: forget them.
    for (const [other, o] of this.held) if (o.count === 0 && !o.timer && now - o.writtenAt >= this.windowMs) this.held.delete(other);
    // A concurrent sighting may have written (and started holding) meanwhile: its entry stays.
    if (open && !this.held.has(id)) this.held.set(id, { content, writtenAt: now, count: 0, at: latest, draft, timer: null, writing: null });
    return open;
  }

  /** Sightings held and not written yet, over all findings (tests, shutdown). */
  get unwritten(): number {
    let n = 0;
    for (const h of this.held.values()) n += h.count;
    return n;
  }

  /** Writes what is held now. */
  async flushAll(): Promise<void> {
    await Promise.all([...this.held.keys()].map((id) => this.flush(id)));
  }

  /** Writes what is held; later sightings are written at once. */
  async close(): Promise<void> {
    this.closing = true;
    await this.flushAll();
  }

  /** Writes what `id` holds, after any write of it under way (so `flushAll` waits for a timer's write too). */
  private flush(id: string): Promise<void> {
    const h = this.held.get(id);
    if (!h) return Promise.resolve();
    if (h.timer) clearTimeout(h.timer);
    h.timer = null;
    const next = (h.writing ?? Promise.resolve()).then(() => this.writeHeld(id, h));
    h.writing = next;
    return next;
  }

  private async writeHeld(id: string, h: Held): Promise<void> {
    if (h.count === 0) return;
    const { count, at, draft } = h;
    h.count = 0;
    h.writtenAt = Date.now();
    h.content = contentOf(draft);
    try {
      if (!(await this.write(id, draft, count, at)) && this.held.get(id) === h) this.held.delete(id);
    } catch (err) {
      h.count += count;
      h.content = '';
      this.onError(err);
    }
  }
}

function contentOf(d: FindingDraft): string {
  return JSON.stringify([d.severity, d.message, d.remediation, d.evidence ?? null]);
}
