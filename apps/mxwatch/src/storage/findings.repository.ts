import { Injectable } from '@nestjs/common';
import { Prisma, type Finding } from '../generated/prisma/client.js';
import { DatabaseService } from '../database/database.service.js';
import type { LifecycleChange } from '../findings/finding-lifecycle.js';
import { fromStorableText, toStorable, toStorableText } from './storable-text.js';

export type { Finding };

export interface FindingQuery {
  status?: 'open' | 'resolved' | 'pending';
  domainId?: string;
  severity?: string;
  code?: string;
  /** Labels the finding's domain must carry, all of them. */
  labels?: Record<string, string>;
  limit: number;
}

@Injectable()
export class FindingsRepository {
  constructor(private readonly db: DatabaseService) {}

  /** Targets as the probes reported them (see storable-text.ts), so the lifecycle recognises a finding whose target held a NUL. */
  async active(domainId: string): Promise<Finding[]> {
    const rows = await this.db.prisma.finding.findMany({ where: { domainId, status: { in: ['pending', 'open'] } } });
    return rows.map((f) => ({ ...f, target: fromStorableText(f.target) }));
  }

  /** Applies one run's lifecycle changes atomically; returns the rows that opened and resolved. */
  async apply(domainId: string, changes: LifecycleChange[], now: Date): Promise<{ opened: Finding[]; resolved: Finding[] }> {
    return this.db.prisma.$transaction(async (tx) => {
      const opened: Finding[] = [];
      const resolved: Finding[] = [];
      for (const c of changes) {
        switch (c.kind) {
          case 'create': {
            const row = await tx.finding.create({
              data: {
                domainId,
                code: c.draft.code,
                severity: c.draft.severity,
                probe: c.draft.probe,
                target: toStorableText(c.draft.target),
                message: toStorableText(c.draft.message),
                remediation: toStorableText(c.draft.remediation),
                evidence: toStorable(c.draft.evidence) as Prisma.InputJsonValue,
                status: c.status,
                seenCount: 1,
                firstSeenAt: now,
                lastSeenAt: now,
                openedAt: c.status === 'open' ? now : null,
              },
            });
            if (c.status === 'open') opened.push(row);
            break;
          }
          case 'seen': {
            const row = await tx.finding.update({
              where: { id: c.id },
              data: {
                seenCount: c.seenCount,
                missCount: 0,
                lastSeenAt: now,
                severity: c.draft.severity,
                message: toStorableText(c.draft.message),
                remediation: toStorableText(c.draft.remediation),
                evidence: toStorable(c.draft.evidence) as Prisma.InputJsonValue,
                ...(c.opens ? { status: 'open', openedAt: now } : {}),
              },
            });
            if (c.opens) opened.push(row);
            break;
          }
          case 'miss': {
            const row = await tx.finding.update({
              where: { id: c.id },
              data: { missCount: c.missCount, ...(c.resolves ? { status: 'resolved', resolvedAt: now } : {}) },
            });
            if (c.resolves) resolved.push(row);
            break;
          }
          case 'drop':
            await tx.finding.delete({ where: { id: c.id } });
            break;
        }
      }
      return { opened, resolved };
    });
  }

  list(q: FindingQuery): Promise<(Finding & { domain: { name: string } | null })[]> {
    const where: Prisma.FindingWhereInput = { status: q.status ? q.status : { in: ['open', 'resolved'] } };
    if (q.domainId) where.domainId = q.domainId;
    if (q.severity) where.severity = q.severity;
    if (q.code) where.code = q.code;
    const labels = Object.entries(q.labels ?? {});
    if (labels.length > 0) where.domain = { AND: labels.map(([k, v]) => ({ labels: { path: [k], equals: v } })) };
    return this.db.prisma.finding.findMany({
      where,
      include: { domain: { select: { name: true } } },
      orderBy: [{ lastSeenAt: 'desc' }, { id: 'asc' }],
      take: q.limit,
    });
  }

  openFor(domainId: string): Promise<Finding[]> {
    return this.db.prisma.finding.findMany({ where: { domainId, status: 'open' }, orderBy: [{ severity: 'asc' }, { code: 'asc' }, { target: 'asc' }] });
  }
}
