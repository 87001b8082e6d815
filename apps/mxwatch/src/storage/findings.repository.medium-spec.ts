import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { createTestDatabase } from '../../../../test/support/postgres.js';
import type { DatabaseService } from '../database/database.service.js';
import { openDatabase, type Database } from '../database/open-database.js';
import type { FindingDraft } from '../findings/findings.rules.js';
import { FindingsRepository } from './findings.repository.js';

/** Medium tier: the real repository on real PostgreSQL. */
describe(FindingsRepository.name, () => {
  let database: Database;
  let drop: () => Promise<void>;
  let repo: FindingsRepository;

  beforeAll(async () => {
    const db = await createTestDatabase('mxwatch_findings_repo');
    database = await openDatabase({ databaseUrl: db.url, dataDir: '/nonexistent' });
    drop = db.drop;
    repo = new FindingsRepository({ prisma: database.prisma } as DatabaseService);
  });
  afterAll(async () => {
    await database?.close();
    await drop?.();
  });
  beforeEach(async () => {
    await database.prisma.domain.deleteMany();
  });

  const mx = 'mx\u0000evil.example';
  const draft: FindingDraft = {
    code: 'MX_TARGET_UNRESOLVABLE',
    severity: 'critical',
    probe: 'mx',
    target: mx,
    message: `MX target ${mx} does not resolve`,
    remediation: 'fix it',
    evidence: { mx, [`k\u0000`]: ['\u0000'] },
    scope: 'domain',
  };

  it('should store a finding whose target, message and evidence hold a NUL, and give the target back as reported', async () => {
    const d = await database.prisma.domain.create({ data: { name: 'evil.example' } });
    const now = new Date('2026-06-15T12:00:00Z');
    const { opened } = await repo.apply(d.id, [{ kind: 'create', draft, status: 'open' }], now);
    expect(opened[0]).toMatchObject({ target: 'mx\u2400evil.example', message: 'MX target mx\u2400evil.example does not resolve', evidence: { mx: 'mx\u2400evil.example', 'k\u2400': ['\u2400'] } });

    const [active] = await repo.active(d.id);
    expect(active!.target).toBe(mx);
    await repo.apply(d.id, [{ kind: 'seen', id: active!.id, draft, seenCount: 2, opens: false }], now);
    expect(await repo.openFor(d.id)).toMatchObject([{ target: 'mx\u2400evil.example', seenCount: 2 }]);
  });

  it('should list only the findings of domains that carry every label asked for', async () => {
    const now = new Date('2026-06-15T12:00:00Z');
    const mail = await database.prisma.domain.create({ data: { name: 'mail.example', labels: { team: 'mail', env: 'prod' } } });
    const web = await database.prisma.domain.create({ data: { name: 'web.example', labels: { team: 'web', env: 'prod' } } });
    for (const d of [mail, web]) await repo.apply(d.id, [{ kind: 'create', draft: { ...draft, target: d.name }, status: 'open' }], now);
    const domains = async (labels: Record<string, string>) => (await repo.list({ labels, limit: 10 })).map((f) => f.domain?.name).sort();
    expect(await domains({})).toEqual(['mail.example', 'web.example']);
    expect(await domains({ env: 'prod' })).toEqual(['mail.example', 'web.example']);
    expect(await domains({ team: 'mail' })).toEqual(['mail.example']);
    expect(await domains({ team: 'web', env: 'prod' })).toEqual(['web.example']);
    expect(await domains({ team: 'mail', env: 'dev' })).toEqual([]);
  });
});
