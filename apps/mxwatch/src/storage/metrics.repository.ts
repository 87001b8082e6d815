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
      prisma.finding.groupBy({ by: ['domainId', 'severity'], where: { status: 'open', domainId: { not: null } }, _count: { _all: true } }),
      prisma.domain.groupBy({ by: ['enabled'], _count: { _all: true } }),
      prisma.domain.findFirst({ where: { enabled: true, nextCheckAt: { lt: now } }, orderBy: { nextCheckAt: 'asc' }, select: { nextCheckAt: true } }),
    ]);
    const ids = [...new Set(byDomain.flatMap((f) => (f.domainId ? [f.domainId] : [])))];
    const names = new Map((await prisma.domain.findMany({ where: { id: { in: ids } }, select: { id: true, name: true } })).map((d) => [d.id, d.name]));
    return {
      findingsBySeverityCode: findings.map((f) => ({ severity: f.severity, code: f.code, count: f._count._all })),
      findingsByDomainSeverity: byDomain.flatMap((f) => {
        const domain = f.domainId ? names.get(f.domainId) : undefined;
        return domain ? [{ domain, severity: f.severity, count: f._count._all }] : [];
      }),
      domains: { enabled: domainStates.find((d) => d.enabled)?._count._all ?? 0, disabled: domainStates.find((d) => !d.enabled)?._count._all ?? 0 },
      mostOverdue: overdue?.nextCheckAt ?? null,
    };
  }
}
