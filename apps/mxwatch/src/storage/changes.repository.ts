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

/**
 * The last policy state per (domain, probe) and the changes between them. The states are read
 * with the run they are compared with (FindingsRepository `baselineSelect`).
 */
@Injectable()
export class ChangesRepository {
  constructor(private readonly db: DatabaseService) {}

  /**
   * Saves this run's states and the changes they show, together (one statement, atomic by
   * itself): a change is never recorded twice nor lost. As an interactive transaction with one
   * upsert per probe this cost ~1 ms of CPU per domain whose policy was recorded; as one statement
   * ~0.2 ms (bench/README.md).
   */
  async record(domainId: string, states: Array<{ probe: string; state: object }>, changes: NewPolicyChange[], observedAt: Date): Promise<PolicyChange[]> {
    // JSON.stringify: states are JSON by contract (Dates as ISO strings), as the column always had them.
    const stateRows = JSON.stringify(states.map((s) => ({ probe: s.probe, state: s.state })));
    const changeRows = JSON.stringify(changes.map((c) => ({ probe: c.probe, kind: c.kind, weakening: c.weakening, text: c.text })));
    const created = await this.db.sql<PolicyChange>(Prisma.sql`
      WITH "states" AS (
        INSERT INTO "PolicyState" ("domainId", "probe", "state", "observedAt")
        SELECT ${domainId}::uuid, s.v->>'probe', s.v->'state', ${observedAt}
          FROM jsonb_array_elements(${stateRows}::jsonb) AS s(v)
        ON CONFLICT ("domainId", "probe") DO UPDATE SET "state" = EXCLUDED."state", "observedAt" = EXCLUDED."observedAt"
      )
      INSERT INTO "PolicyChange" ("domainId", "probe", "kind", "weakening", "text", "observedAt")
      SELECT ${domainId}::uuid, c.v->>'probe', c.v->>'kind', (c.v->>'weakening')::boolean, c.v->>'text', ${observedAt}
        FROM jsonb_array_elements(${changeRows}::jsonb) WITH ORDINALITY AS c(v, n)
       ORDER BY c.n
      RETURNING *`);
    return created.sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
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
