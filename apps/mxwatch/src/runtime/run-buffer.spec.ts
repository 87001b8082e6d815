import { describe, expect, it } from 'vitest';
import type { AppLogger } from '../common/app-logger.js';
import type { DatabaseService } from '../database/database.service.js';
import { DatabaseUnavailableError, isDatabaseUnavailable } from '../storage/database-errors.js';
import { DatabaseOutage, RunBuffer, type KeptRun } from './run-buffer.js';

/** What adapter-pg and node-postgres really threw when the proxy in front of PostgreSQL stopped. */
const unreachable = () =>
  Object.assign(new Error("Invalid `prisma.domain.findMany()` invocation:\n\nCan't reach database server at 127.0.0.1:39093"), {
    name: 'PrismaClientKnownRequestError',
    code: 'P1001',
    meta: { driverAdapterError: { name: 'DriverAdapterError', cause: { kind: 'DatabaseNotReachable', host: '127.0.0.1', port: 39093 } } },
  });
const terminated = () => new Error('Connection terminated unexpectedly');

/** A database that is down until `up` is set; every persist call is recorded. */
function world() {
  const state = { up: false, stored: [] as string[] };
  const run = (key: string, fail?: () => Error): KeptRun => ({
    key,
    keptAt: new Date(),
    persist: async () => {
      if (fail) throw fail();
      if (!state.up) throw unreachable();
      state.stored.push(key);
    },
  });
  return { state, run };
}

describe(RunBuffer.name, () => {
  it('should store kept runs in order once the database is back', async () => {
    const { state, run } = world();
    const buffer = new RunBuffer({ capacity: 10 });
    for (const k of ['a', 'b', 'c']) buffer.keep(run(k));
    expect(await buffer.flush()).toBe(0);
    expect(buffer.size).toBe(3);
    state.up = true;
    expect(await buffer.flush()).toBe(3);
    expect(state.stored).toEqual(['a', 'b', 'c']);
    expect(buffer.size).toBe(0);
  });

  it('should drop the oldest runs beyond its capacity, counting each', async () => {
    const { state, run } = world();
    const dropped: string[] = [];
    const buffer = new RunBuffer({ capacity: 2, onDropped: (r, why) => dropped.push(`${r.key}:${why}`) });
    for (const k of ['a', 'b', 'c', 'd']) buffer.keep(run(k));
    expect(buffer.size).toBe(2);
    expect(buffer.dropped).toBe(2);
    expect(dropped).toEqual(['a:full', 'b:full']);
    state.up = true;
    await buffer.flush();
    expect(state.stored).toEqual(['c', 'd']);
  });

  it('should give up a run failing for another reason and go on with the rest', async () => {
    const { state, run } = world();
    state.up = true;
    const dropped: string[] = [];
    const buffer = new RunBuffer({ capacity: 10, onDropped: (r, why) => dropped.push(`${r.key}:${why}`) });
    buffer.keep(run('a'));
    buffer.keep(run('bad', () => new Error('invalid byte sequence for encoding "UTF8": 0x00')));
    buffer.keep(run('c'));
    expect(await buffer.flush()).toBe(2);
    expect(state.stored).toEqual(['a', 'c']);
    expect(dropped).toEqual(['bad:failed']);
  });

  it('should stop at the first run the database still refuses, keeping it and those after it', async () => {
    const { state, run } = world();
    state.up = true;
    const buffer = new RunBuffer({ capacity: 10 });
    buffer.keep(run('a'));
    buffer.keep(run('b', terminated));
    buffer.keep(run('c'));
    expect(await buffer.flush()).toBe(1);
    expect(buffer.size).toBe(2);
  });
});

describe('isDatabaseUnavailable', () => {
  it.each([
    ['Prisma P1001 (adapter: DatabaseNotReachable)', unreachable()],
    ['node-postgres "Connection terminated unexpectedly"', terminated()],
    ['Prisma P2010 raw query', Object.assign(new Error("Raw query failed. Code: `N/A`. Message: `Can't reach database server at 127.0.0.1:5432`"), { code: 'P2010' })],
    ['a refused socket', Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:5432'), { code: 'ECONNREFUSED' })],
    ['PostgreSQL shutting down (57P01)', Object.assign(new Error('terminating connection due to administrator command'), { code: '57P01' })],
    ['a wrapped cause', new Error('store failed', { cause: terminated() })],
    ['our own', new DatabaseUnavailableError('x')],
  ])('should recognise %s', (_what, err) => {
    expect(isDatabaseUnavailable(err)).toBe(true);
  });

  it.each([
    ['a unique violation', Object.assign(new Error('Unique constraint failed'), { code: 'P2002' })],
    ['a NUL byte in text (22P05)', Object.assign(new Error('unsupported Unicode escape sequence'), { code: '22P05' })],
    ['a bug', new TypeError('x is undefined')],
    ['not an error', 'nope'],
  ])('should not take %s for an outage', (_what, err) => {
    expect(isDatabaseUnavailable(err)).toBe(false);
  });
});

describe(DatabaseOutage.name, () => {
  function make() {
    const lines: Array<[string, string]> = [];
    const pino = { error: (_o: unknown, m: string) => lines.push(['error', m]), warn: (_o: unknown, m: string) => lines.push(['warn', m]), info: (_o: unknown, m: string) => lines.push(['info', m]) };
    const outage = new DatabaseOutage({ ping: async () => undefined } as unknown as DatabaseService, { pino } as unknown as AppLogger);
    return { outage, lines };
  }

  it('should log an outage once however often it is reported', async () => {
    const { outage, lines } = make();
    for (let i = 0; i < 50; i++) expect(outage.failed(unreachable(), 'Scheduler')).toBe(true);
    expect(lines.filter(([level]) => level === 'error')).toHaveLength(1);
    expect(outage.down).toBe(true);
    expect(outage.failed(new TypeError('bug'), 'Scheduler')).toBe(false);
    await outage.onApplicationShutdown();
  });

  it('should keep a run it could not store and answer with DatabaseUnavailableError; other errors pass through', async () => {
    const { outage } = make();
    await expect(outage.persistOrKeep('example.com', async () => Promise.reject(terminated()))).rejects.toBeInstanceOf(DatabaseUnavailableError);
    expect(outage.buffer.size).toBe(1);
    await expect(outage.persistOrKeep('example.com', async () => Promise.reject(new TypeError('bug')))).rejects.toBeInstanceOf(TypeError);
    expect(outage.buffer.size).toBe(1);
    expect(await outage.persistOrKeep('example.com', async () => 42)).toBe(42);
    await outage.onApplicationShutdown();
  });
});
