import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { databaseBackends } from '../../../../test/support/database-backends.js';
import { DatabaseService } from '../database/database.service.js';
import type { Database } from '../database/open-database.js';
import { ChangesRepository } from './changes.repository.js';

/** Medium tier: the real repository on both databases it runs on (its reads are raw SQL). */
describe.each(databaseBackends('mxwatch_changes_repo'))(`${ChangesRepository.name} on $name`, (backend) => {
  let close: () => Promise<void>;
  let database: Database;
  let repo: ChangesRepository;
  let domainId: string;

  beforeAll(async () => {
    ({ database, close } = await backend.open());
    repo = new ChangesRepository(DatabaseService.over(database));
    domainId = (await database.prisma.domain.create({ data: { name: 'example.com' } })).id;
  });

  afterAll(async () => {
    await close?.();
  });

  const T = (s: number) => new Date(Date.UTC(2026, 2, 1, 10, 0, s));

  it('should keep one state per probe, replaced by each conclusive run', async () => {
    await repo.record(domainId, [{ probe: 'dmarc', state: { policy: 'reject' } }, { probe: 'mx', state: { hosts: ['a'] } }], [], T(0));
    await repo.record(domainId, [{ probe: 'dmarc', state: { policy: 'none' } }], [{ probe: 'dmarc', kind: 'dmarc.policy_lowered', weakening: true, text: 'DMARC policy reject → none' }], T(1));
    const states = await database.prisma.policyState.findMany({ where: { domainId } });
    expect(Object.fromEntries(states.map((r) => [r.probe, r.state]))).toEqual({ dmarc: { policy: 'none' }, mx: { hosts: ['a'] } });
  });

  it('should list changes newest first and page by (observedAt, id) without gaps or repeats', async () => {
    for (let i = 2; i < 7; i++) await repo.record(domainId, [], [{ probe: 'mx', kind: 'mx.host_added', weakening: false, text: `MX m${i} added` }], T(i % 2 === 0 ? i : i - 1));
    const all = await repo.list({ domainId, limit: 100 });
    expect(all.map((c) => c.text)).toEqual(['MX m6 added', 'MX m5 added', 'MX m4 added', 'MX m3 added', 'MX m2 added', 'DMARC policy reject → none']);
    const seen: string[] = [];
    let after: { observedAt: Date; id: bigint } | undefined;
    for (;;) {
      const page = await repo.list({ domainId, limit: 2, after });
      seen.push(...page.map((c) => c.text));
      if (page.length < 2) break;
      after = { observedAt: page[1]!.observedAt, id: page[1]!.id };
    }
    expect(seen).toEqual(all.map((c) => c.text));
  });

  it('should go with its domain', async () => {
    await database.prisma.domain.delete({ where: { id: domainId } });
    expect(await database.prisma.policyChange.count()).toBe(0);
    expect(await database.prisma.policyState.count()).toBe(0);
  });
});
