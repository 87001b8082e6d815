/**
 * A PostgreSQL outage must not lose the checks that were running when it began (nor page anyone
 * about it once per scheduler tick). A finished check whose storing failed because the database
 * is unavailable is kept here, bounded, and stored in order as soon as the database answers
 * again; a manual check answers 503 meanwhile (the API maps DatabaseUnavailableError).
 */
import { Injectable, type OnApplicationShutdown } from '@nestjs/common';
import { AppLogger } from '../common/app-logger.js';
import { DatabaseService } from '../database/database.service.js';
import { DatabaseUnavailableError, isDatabaseUnavailable } from '../storage/database-errors.js';

export interface KeptRun {
  /** Domain name, for logs. */
  key: string;
  keptAt: Date;
  /** Stores what is left of the run; safe to call again after a failure part-way. */
  persist: () => Promise<unknown>;
}

export interface RunBufferOptions {
  capacity: number;
  /** Told about every run given up: kept too long ago to fit, or failing for another reason. */
  onDropped?: (run: KeptRun, why: 'full' | 'failed', err?: unknown) => void;
}

/** A bounded FIFO of runs waiting for the database. Pure: the Nest face is `DatabaseOutage`. */
export class RunBuffer {
  private readonly runs: KeptRun[] = [];
  private flushing: Promise<number> | null = null;
  dropped = 0;

  constructor(private readonly o: RunBufferOptions) {}

  get size(): number {
    return this.runs.length;
  }

  /** Keeps a run; when full, the oldest is given up (newer results matter more). */
  keep(run: KeptRun): void {
    this.runs.push(run);
    while (this.runs.length > this.o.capacity) {
      const oldest = this.runs.shift()!;
      this.dropped++;
      this.o.onDropped?.(oldest, 'full');
    }
  }

  /**
   * Stores the kept runs in order. Stops at the first one that fails because the database is
   * still unavailable (it stays, with everything after it); gives up a run that fails for any
   * other reason (retrying would repeat it). Returns how many were stored. One flush at a time.
   */
  flush(): Promise<number> {
    if (!this.flushing) this.flushing = this.flushNow().finally(() => (this.flushing = null));
    return this.flushing;
  }

  private async flushNow(): Promise<number> {
    let stored = 0;
    while (this.runs.length > 0) {
      const run = this.runs[0]!;
      try {
        await run.persist();
      } catch (err) {
        if (isDatabaseUnavailable(err)) return stored;
        this.runs.shift();
        this.dropped++;
        this.o.onDropped?.(run, 'failed', err);
        continue;
      }
      this.runs.shift();
      stored++;
    }
    return stored;
  }
}

export const RUN_BUFFER_CAPACITY = 1000;

/**
 * The process's view of a database outage: logs once when it starts and once when it ends (not
 * once per tick), watches for the end by pinging, then stores the kept runs. Anything that hits
 * the database reports its failures through `failed(err)`.
 */
@Injectable()
export class DatabaseOutage implements OnApplicationShutdown {
  readonly buffer: RunBuffer;
  private since: Date | null = null;
  private timer: NodeJS.Timeout | null = null;
  private suppressed = 0;
  private readonly dropListeners: Array<(why: 'full' | 'failed') => void> = [];

  constructor(
    private readonly db: DatabaseService,
    private readonly logger: AppLogger,
  ) {
    this.buffer = new RunBuffer({
      capacity: RUN_BUFFER_CAPACITY,
      onDropped: (run, why, err) => {
        this.logger.pino.warn({ context: 'Database', domain: run.key, keptAt: run.keptAt.toISOString(), why, err }, 'a finished check could not be stored and was given up');
        for (const l of this.dropListeners) l(why);
      },
    });
  }

  get down(): boolean {
    return this.since !== null;
  }

  /** Metrics count what the buffer gives up. */
  onDropped(listener: (why: 'full' | 'failed') => void): void {
    this.dropListeners.push(listener);
  }

  /**
   * Whether `err` means the database is unavailable; if so, the outage is noted (logged only
   * when it starts) and the caller should not log it again.
   */
  failed(err: unknown, context: string): boolean {
    if (!isDatabaseUnavailable(err)) return false;
    if (this.since === null) {
      this.since = new Date();
      this.suppressed = 0;
      this.logger.pino.error({ context, err: { message: err instanceof Error ? err.message.trim().split('\n').pop() : String(err) } }, 'database unavailable; API answers 503, finished checks are kept until it is back');
      this.watch();
    } else this.suppressed++;
    return true;
  }

  /**
   * Runs `persist`; when the database is unavailable, keeps it to be stored later and throws
   * DatabaseUnavailableError (a manual check answers 503). Other errors pass through.
   */
  async persistOrKeep<T>(key: string, persist: () => Promise<T>): Promise<T> {
    try {
      return await persist();
    } catch (err) {
      if (!this.failed(err, 'Check')) throw err;
      this.buffer.keep({ key, keptAt: new Date(), persist });
      throw new DatabaseUnavailableError(`the database is unavailable: the check of ${key} finished and is kept until the database is back`);
    }
  }

  async onApplicationShutdown(): Promise<void> {
    if (this.timer) clearTimeout(this.timer);
    if (this.buffer.size > 0) this.logger.pino.warn({ context: 'Database', kept: this.buffer.size }, 'shutting down with finished checks not stored (the database never came back)');
  }

  private watch(): void {
    this.timer = setTimeout(() => void this.probe(), 2000);
    this.timer.unref();
  }

  private async probe(): Promise<void> {
    this.timer = null;
    try {
      await this.db.ping();
    } catch {
      this.watch();
      return;
    }
    const stored = await this.buffer.flush();
    if (this.buffer.size > 0) {
      // Answered the ping, failed the writes: not back yet.
      this.watch();
      return;
    }
    const seconds = Math.round((Date.now() - this.since!.getTime()) / 1000);
    this.logger.pino.info({ context: 'Database', downSeconds: seconds, storedKeptRuns: stored, suppressedErrors: this.suppressed }, 'database available again');
    this.since = null;
  }
}
