import { Injectable } from '@nestjs/common';
import { Prisma } from '../generated/prisma/client.js';
import { DatabaseService } from '../database/database.service.js';
import type { ProbeMemory } from '../probes/probe.types.js';
import { toStorable } from './storable-text.js';

/** Entries untouched this long are pruned: longer than any MTA-STS max_age (one year at most, RFC 8461). */
export const PROBE_MEMORY_KEEP_DAYS = 400;

/**
 * What probes remember between runs (`ctx.memory`), in the ProbeMemory table: shared by every
 * worker on the database and kept across restarts, so an over-time finding (an MTA-STS policy
 * senders may still hold, a DANE key that changed) does not depend on which process checks the
 * domain, nor on how long it has been up. Values are JSON; a string holding a NUL is stored as
 * U+2400 (PostgreSQL refuses U+0000 in jsonb, see storable-text.ts). Last write wins: a key
 * belongs to one domain or one MX address, whose concurrent runs write the same facts.
 *
 * `get` and `set` go straight to the driver (`db.sql`): the MTA-STS probe reads its memory in
 * every domain's check, and through Prisma's client each statement cost several times its own I/O
 * in CPU (bench/README.md).
 */
@Injectable()
export class ProbeMemoryRepository implements ProbeMemory {
  constructor(private readonly db: DatabaseService) {}

  async get<T>(key: string): Promise<T | undefined> {
    const rows = await this.db.sql<{ value: unknown }>(Prisma.sql`SELECT "value" FROM "ProbeMemory" WHERE "key" = ${key}`);
    return rows.length > 0 ? (rows[0]!.value as T) : undefined;
  }

  async set<T>(key: string, value: T, now = new Date()): Promise<void> {
    // One statement (no read first): JSON null included, which Prisma's Json input would need spelt out.
    const json = JSON.stringify(toStorable(value) ?? null);
    await this.db.sql(Prisma.sql`
      INSERT INTO "ProbeMemory" ("key", "value", "updatedAt") VALUES (${key}, ${json}::jsonb, ${now}::timestamp(3))
      ON CONFLICT ("key") DO UPDATE SET "value" = EXCLUDED."value", "updatedAt" = EXCLUDED."updatedAt"`);
  }

  /** Deletes entries not written since `before`, in batches; returns how many went. */
  async prune(before: Date, batchSize = 1000): Promise<number> {
    let total = 0;
    for (;;) {
      const n = await this.db.prisma.$executeRaw`
        DELETE FROM "ProbeMemory" WHERE "key" IN (SELECT "key" FROM "ProbeMemory" WHERE "updatedAt" < ${before} LIMIT ${batchSize})`;
      total += n;
      if (n < batchSize) return total;
    }
  }
}
