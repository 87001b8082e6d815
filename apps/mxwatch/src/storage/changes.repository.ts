import { Injectable } from '@nestjs/common';
import { Prisma, type PolicyChange } from '../generated/prisma/client.js';
import { DatabaseService } from '../database/database.service.js';

export type { PolicyChange };

export interface NewPolicyChange {
  probe: string;
  kind: string;
  weakening: boolean;
  text: string;
}

/** The last policy state per (domain, probe) and the changes between them. */
@Injectable()
export class ChangesRepository {
  constructor(private readonly db: DatabaseService) {}

  async states(domainId: string): Promise<Map<string, unknown>> {
    const rows = await this.db.prisma.policyState.findMany({ where: { domainId } });
    return new Map(rows.map((r) => [r.probe, r.state]));
  }

  /** Saves this run's states and the changes they show, together: a change is never recorded twice nor lost. */
  async record(domainId: string, states: Array<{ probe: string; state: object }>, changes: NewPolicyChange[], observedAt: Date): Promise<PolicyChange[]> {
    return this.db.prisma.$transaction(async (tx) => {
      for (const s of states) {
        const state = JSON.parse(JSON.stringify(s.state)) as Prisma.InputJsonValue;
        await tx.policyState.upsert({
          where: { domainId_probe: { domainId, probe: s.probe } },
          create: { domainId, probe: s.probe, state, observedAt },
          update: { state, observedAt },
        });
      }
      const created: PolicyChange[] = [];
      for (const c of changes) created.push(await tx.policyChange.create({ data: { domainId, ...c, observedAt } }));
      return created;
    });
  }

  /** Newest first; `after` is the (observedAt, id) of the last row of the previous page. */
  list(q: { domainId: string; limit: number; after?: { observedAt: Date; id: bigint } }): Promise<PolicyChange[]> {
    const where: Prisma.PolicyChangeWhereInput = { domainId: q.domainId };
    if (q.after) {
      where.OR = [{ observedAt: { lt: q.after.observedAt } }, { observedAt: q.after.observedAt, id: { lt: q.after.id } }];
    }
    return this.db.prisma.policyChange.findMany({ where, orderBy: [{ observedAt: 'desc' }, { id: 'desc' }], take: q.limit });
  }
}
