import { describe, expect, it } from 'vitest';
import type { AppConfig } from '../config/config.types.js';
import type { FindingsRepository, Finding } from '../storage/findings.repository.js';
import { EventBus } from './events.js';
import { explainPending, FindingsService } from './findings.service.js';

function finding(over: Partial<Finding>): Finding {
  const at = new Date('2026-03-01T10:00:00Z');
  return {
    id: 'f1',
    domainId: 'd1',
    code: 'STARTTLS_NOT_OFFERED',
    severity: 'critical',
    probe: 'starttls',
    target: 'mx.example.com[192.0.2.1]:25',
    message: 'no STARTTLS',
    remediation: 'enable it',
    evidence: {},
    status: 'pending',
    seenCount: 1,
    missCount: 0,
    firstSeenAt: at,
    lastSeenAt: at,
    openedAt: null,
    resolvedAt: null,
    ...over,
  } as Finding;
}

describe(FindingsService.name, () => {
  const make = (rows: Finding[], alertAfter = 2) =>
    new FindingsService({ active: async () => rows } as unknown as FindingsRepository, new EventBus(), { alertAfter } as AppConfig);

  it('should list only pending findings, with the runs seen and the runs still needed to open', async () => {
    const service = make(
      [
        finding({ id: 'a', code: 'TLS_CERT_EXPIRING', seenCount: 2 }),
        finding({ id: 'b', status: 'open', seenCount: 5 }),
        finding({ id: 'c', code: 'DNSBL_LISTED', seenCount: 1 }),
      ],
      3,
    );
    const pending = await service.pending('d1');
    expect(pending.map((p) => [p.id, p.code, p.status, p.seenRuns, p.alertAfter, p.runsUntilOpen])).toEqual([
      ['c', 'DNSBL_LISTED', 'pending', 1, 3, 2],
      ['a', 'TLS_CERT_EXPIRING', 'pending', 2, 3, 1],
    ]);
  });

  it('should say plainly what is pending and why, naming MXWATCH_ALERT_AFTER', async () => {
    const service = make([finding({})]);
    const note = service.explainPending(await service.pending('d1'));
    expect(note).toBe(
      '1 finding is pending (STARTTLS_NOT_OFFERED): a finding opens, and is notified, only once 2 consecutive checks have seen it (MXWATCH_ALERT_AFTER=2), ' +
        'so one bad answer never pages anyone. The next check seeing it will open it; until then they are listed under findings.pending here, ' +
        'in GET /domains/{name}/status (pendingFindings) and in GET /findings?status=pending.',
    );
  });

  it('should say nothing when nothing is pending', () => {
    expect(explainPending([], 2)).toBeNull();
  });

  it('should count the checks still needed when several are', () => {
    const note = explainPending(
      [
        { code: 'A', seenRuns: 1, runsUntilOpen: 3 },
        { code: 'B', seenRuns: 1, runsUntilOpen: 3 },
        { code: 'A', seenRuns: 2, runsUntilOpen: 2 },
      ],
      4,
    )!;
    expect(note.startsWith('3 findings are pending (A, B): ')).toBe(true);
    expect(note).toContain('MXWATCH_ALERT_AFTER=4');
    expect(note).toContain('2 more checks seeing them will open them');
  });
});
