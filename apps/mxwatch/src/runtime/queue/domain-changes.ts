import { Inject, Injectable, type OnApplicationShutdown } from '@nestjs/common';
import { Redis } from 'ioredis';
import { AppLogger } from '../../common/app-logger.js';
import { APP_CONFIG } from '../../config/config.module.js';
import type { AppConfig } from '../../config/config.types.js';
import { EventBus } from '../events.js';
import type { CheckQueueOptions } from './check-jobs.js';
import { CHECK_QUEUE_OPTIONS } from './queue-tokens.js';
import { redisOptionsFromUrl } from './redis-options.js';
import { redisNowMs, within } from './redis-calls.js';

/**
 * How long a worker remembers that a domain changed, and how long a job may have waited and still
 * start from the row it carries. Longer than a job waits in a queue that keeps up; a job that
 * waited longer reads its row again, which is all it costs.
 */
export const CHANGE_HORIZON_MS = 15 * 60_000;

/** The Redis channel on which every replica announces changed domains (by name) to the workers. */
export function domainChangesChannel(prefix: string): string {
  return `${prefix}:domains:changed`;
}

/**
 * What a worker knows of domain changes, to decide whether a queued check may start from the row
 * its job carries (as the claim left it) or must read the row again first.
 *
 * It may start from the job's row only when the worker's subscription came up, without a break
 * since, before the claim (both times are Redis's clock, TIME, so no host's clock matters), the
 * job is younger than the horizon, and no change of the domain was heard within the horizon. A
 * change to a claimed row commits after the claim (the claim holds the rows until its jobs are
 * in Redis) and is announced after it commits, so such a worker hears it. Anything else reads: a
 * change announced while the worker was not listening is never relied on, and changes are rare
 * enough that reading for every recently changed domain costs nothing.
 */
export class DomainChangeWatch {
  /** When the current subscription came up (Redis's clock, ms); null while it is down. */
  private since: number | null = null;
  private readonly changed = new Map<string, number>();

  constructor(
    private readonly horizonMs = CHANGE_HORIZON_MS,
    private readonly clock: () => number = Date.now,
  ) {}

  /** The subscription is up since `at`, Redis's time read once it was confirmed. */
  up(at: number): void {
    this.since = at;
  }

  down(): void {
    this.since = null;
  }

  get listening(): boolean {
    return this.since !== null;
  }

  note(name: string): void {
    const now = this.clock();
    // Deleted first, so the map stays in the order names were heard (oldest first).
    this.changed.delete(name);
    this.changed.set(name, now);
    // Bounded: a bulk change of thousands of domains is forgotten once past the horizon, oldest
    // first, stopping at the first one still within it (not a scan of them all at every change).
    if (this.changed.size > 1_000) {
      for (const [n, at] of this.changed) {
        if (now - at <= this.horizonMs) break;
        this.changed.delete(n);
      }
    }
  }

  /** Whether a job for `name`, claimed at `claimedAt` (Redis's clock), may start from the row it carries. */
  trusts(name: string, claimedAt: number): boolean {
    const now = this.clock();
    // Strictly after: Redis's clock steps in milliseconds, and the same millisecond may be before.
    // The horizon compares with this host's clock: a skew only moves when a long wait counts as too long.
    if (this.since === null || claimedAt <= this.since || now - claimedAt > this.horizonMs) return false;
    const at = this.changed.get(name);
    if (at === undefined) return true;
    if (now - at <= this.horizonMs) return false;
    this.changed.delete(name);
    return true;
  }
}

/**
 * Announces every domain change made in this process (API, configuration file) on Redis, where
 * every worker listens. It never holds up the change itself: names are gathered and sent in one
 * pipeline, so a configuration file changing thousands of domains at start-up sends them at once.
 * When Redis is away the change still stands in the database; workers learn nothing then, and
 * checks queued before the change run on the old settings once, as a check already running during
 * a change does.
 */
@Injectable()
export class DomainChangesPublisher implements OnApplicationShutdown {
  private readonly pending = new Set<string>();
  private flushing: Promise<void> | null = null;
  /** Its own connection, opened at the first change: most replicas never change a domain. */
  private readonly redis: Redis;

  constructor(
    events: EventBus,
    @Inject(APP_CONFIG) config: AppConfig,
    private readonly logger: AppLogger,
    @Inject(CHECK_QUEUE_OPTIONS) private readonly options: CheckQueueOptions,
  ) {
    this.redis = new Redis({ ...redisOptionsFromUrl(config.redisUrl!), lazyConnect: true, maxRetriesPerRequest: 1 });
    this.redis.on('error', () => undefined);
    events.on('domain.changed', (e) => this.announce(e.name));
    events.on('domain.retired', (e) => this.announce(e.name));
  }

  announce(name: string): void {
    this.pending.add(name);
    this.flushing ??= this.flush();
  }

  async onApplicationShutdown(): Promise<void> {
    await this.settled();
    this.redis.disconnect();
  }

  /** Resolves once everything announced so far was sent (or given up on). */
  async settled(): Promise<void> {
    while (this.flushing) await this.flushing;
  }

  private async flush(): Promise<void> {
    // Lets a burst of changes (a file sync) gather first.
    await new Promise((r) => setImmediate(r));
    let names: string[] = [];
    try {
      while (this.pending.size > 0) {
        names = [...this.pending];
        this.pending.clear();
        const pipeline = this.redis.pipeline();
        for (const name of names) pipeline.publish(domainChangesChannel(this.options.prefix), name);
        // A pipeline answers each command's error instead of failing.
        const failed = (await within(5_000, pipeline.exec(), 'announcing domain changes'))?.find(([err]) => err);
        if (failed) throw failed[0];
      }
    } catch (e) {
      names.push(...this.pending);
      this.pending.clear();
      this.logger.pino.warn(
        { context: 'Domains', domains: names.length, first: names[0], err: (e as Error).message },
        'could not announce domain changes to workers; checks already queued for them run on their old settings',
      );
    } finally {
      this.flushing = null;
    }
  }
}

/**
 * A worker's subscription to domain changes: its own connection (a subscribed connection does
 * nothing else), and a second one that reads Redis's clock once the subscription is confirmed.
 */
export class DomainChangesSubscriber {
  readonly watch = new DomainChangeWatch();
  private readonly redis: Redis;
  private readonly clock: Redis;
  private readonly channel: string;
  /** Bumped by every connect and disconnect: a clock reading that comes back after either is stale. */
  private generation = 0;

  constructor(config: AppConfig, options: CheckQueueOptions, logger: AppLogger) {
    this.channel = domainChangesChannel(options.prefix);
    const redisOptions = redisOptionsFromUrl(config.redisUrl!);
    this.redis = new Redis({ ...redisOptions, lazyConnect: true, autoResubscribe: false, maxRetriesPerRequest: 1 });
    this.clock = new Redis({ ...redisOptions, lazyConnect: true, maxRetriesPerRequest: 1, commandTimeout: 5_000 });
    this.redis.on('error', () => undefined);
    this.clock.on('error', () => undefined);
    // Whatever was announced while the connection was down is unknown: until it is subscribed
    // again, every job reads its row; afterwards, every job claimed before that.
    this.redis.on('close', () => {
      this.generation++;
      this.watch.down();
    });
    this.redis.on('ready', () => {
      const generation = ++this.generation;
      this.redis
        .subscribe(this.channel)
        .then(() => redisNowMs(this.clock))
        .then(
          (at) => {
            if (generation === this.generation) this.watch.up(at);
          },
          (e: unknown) => logger.pino.warn({ context: 'Worker', err: (e as Error).message }, 'could not subscribe to domain changes; checks read their domain first'),
        );
    });
    this.redis.on('message', (_channel: string, name: string) => this.watch.note(name));
  }

  start(): void {
    this.redis.connect().catch(() => undefined);
  }

  stop(): void {
    this.generation++;
    this.watch.down();
    this.redis.disconnect();
    this.clock.disconnect();
  }
}
