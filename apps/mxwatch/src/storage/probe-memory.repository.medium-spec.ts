import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { databaseBackends } from '../../../../test/support/database-backends.js';
import { DatabaseService } from '../database/database.service.js';
import type { Database } from '../database/open-database.js';
import { ProbeMemoryRepository } from './probe-memory.repository.js';

const backends = databaseBackends('mxwatch_probe_memory_repo');

/** Medium tier: the real repository on a real database. */
describe.each(backends)(`${ProbeMemoryRepository.name} on $name`, (backend) => {
  let database: Database;
  let close: () => Promise<void>;
  let repo: ProbeMemoryRepository;

  beforeAll(async () => {
    ({ database, close } = await backend.open());
    repo = new ProbeMemoryRepository(DatabaseService.over(database));
  });
  afterAll(async () => {
    await close?.();
  });
  beforeEach(async () => {
    await database.prisma.probeMemory.deleteMany();
  });

  it('should give back what was set, replace it on the next set, and know nothing of an unknown key', async () => {
    expect(await repo.get('mta-sts:none.example')).toBeUndefined();
    const state = { policies: [{ id: 'v1', hash: 'ab', mode: 'enforce', maxAge: 86400, mx: ['mx1.example'], lastSeenAt: 1_750_000_000_000 }], failure: null };
    await repo.set('mta-sts:a.example', state, new Date('2026-06-01T12:00:00Z'));
    expect(await repo.get('mta-sts:a.example')).toEqual(state);
    await repo.set('mta-sts:a.example', { policies: [], failure: { id: 'v2', at: 5 } }, new Date('2026-06-02T12:00:00Z'));
    expect(await repo.get('mta-sts:a.example')).toEqual({ policies: [], failure: { id: 'v2', at: 5 } });
    expect(await database.prisma.probeMemory.findMany()).toMatchObject([{ key: 'mta-sts:a.example', updatedAt: new Date('2026-06-02T12:00:00Z') }]);
  });

  it('should store any JSON value, and a string holding a NUL (a body off the wire) as U+2400', async () => {
    for (const [key, value] of [['n', null], ['s', 'text'], ['x', 42], ['b', false], ['l', [1, 'two', { three: 3 }]]] as const) {
      await repo.set(key, value);
      expect(await repo.get(key)).toEqual(value);
    }
    await repo.set('nul', { content: 'mode: enforce\u0000' });
    expect(await repo.get('nul')).toEqual({ content: 'mode: enforce\u2400' });
  });

  it('should prune only what nobody wrote since the cut, in batches', async () => {
    for (let i = 0; i < 5; i++) await repo.set(`dane:old${i}`, { spki: 'aa' }, new Date('2025-01-01T00:00:00Z'));
    await repo.set('dane:fresh', { spki: 'bb' }, new Date('2026-06-01T00:00:00Z'));
    expect(await repo.prune(new Date('2026-01-01T00:00:00Z'), 2)).toBe(5);
    expect((await database.prisma.probeMemory.findMany()).map((r) => r.key)).toEqual(['dane:fresh']);
  });
});
