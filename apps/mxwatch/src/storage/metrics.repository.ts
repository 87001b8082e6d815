import { Injectable } from '@nestjs/common';
import { DatabaseService } from '../database/database.service.js';

export interface ScrapeFacts {
  findingsBySeverityCode: Array<{ severity: string; code: string; count: number }>;
  findingsByDomainSeverity: Array<{ domain: string; severity: string; count: number }>;
  domains: { enabled: number; disabled: number };
  /** nextCheckAt of the most overdue enabled domain, if any is due. */
  mostOverdue: Date | null;
}

/** The facts /metrics reads from the database at scrape time, so they are right after a restart too. */
@Injectable()
export class MetricsRepository {
  constructor(private readonly db: DatabaseService) {}

  async scrapeFacts(now: Date): Promise<ScrapeFacts> {
    const prisma = this.db.prisma;
    const [findings, byDomain, domainStates, overdue] = await Promise.all([
      prisma.finding.groupBy({ by: ['severity', 'code'], where: { status: 'open' }, _count: { _all: true } }),
      // With the names in the same statement: a second round trip with every domain id took longer than the count.
      prisma.$queryRaw<Array<{ domain: string; severity: string; count: number }>>`
        SELECT d."name" AS "domain", f."severity" AS "severity", count(*)::int AS "count"
          FROM "Finding" f JOIN "Domain" d ON d."id" = f."domainId"
         WHERE f."status" = 'open'
         GROUP BY d."name", f."severity"`,
      prisma.domain.groupBy({ by: ['enabled'], _count: { _all: true } }),
      prisma.domain.findFirst({ where: { enabled: true, nextCheckAt: { lt: now } }, orderBy: { nextCheckAt: 'asc' }, select: { nextCheckAt: true } }),
    ]);
    return {
      findingsBySeverityCode: findings.map((f) => ({ severity: f.severity, code: f.code, count: f._count._all })),
      findingsByDomainSeverity: byDomain.map((f) => ({ domain: f.domain, severity: f.severity, count: Number(f.count) })),
      domains: { enabled: domainStates.find((d) => d.enabled)?._count._all ?? 0, disabled: domainStates.find((d) => !d.enabled)?._count._all ?? 0 },
      mostOverdue: overdue?.nextCheckAt ?? null,
    };
  }
}
