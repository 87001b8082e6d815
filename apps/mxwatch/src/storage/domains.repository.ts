import { Injectable } from '@nestjs/common';
import { Prisma, type Domain } from '../generated/prisma/client.js';
import { DatabaseService } from '../database/database.service.js';
import type { DomainSpec } from '../config/config.types.js';

export type DomainRow = Domain;

export class DomainExistsError extends Error {}

/** The only place that reads and writes the domains table. */
@Injectable()
export class DomainsRepository {
  constructor(private readonly db: DatabaseService) {}

  async create(spec: Required<DomainSpec>, source: 'api' | 'config', nextCheckAt: Date): Promise<DomainRow> {
    try {
      return await this.db.prisma.domain.create({ data: { ...spec, source, nextCheckAt } });
    } catch (e) {
      if (e instanceof Prisma.PrismaClientKnownRequestError && e.code === 'P2002') throw new DomainExistsError(spec.name);
      throw e;
    }
  }

  list(): Promise<DomainRow[]> {
    return this.db.prisma.domain.findMany({ orderBy: { name: 'asc' } });
  }

  findByName(name: string): Promise<DomainRow | null> {
    return this.db.prisma.domain.findUnique({ where: { name } });
  }

  /** null when the domain is gone. */
  async update(name: string, data: Prisma.DomainUpdateInput): Promise<DomainRow | null> {
    try {
      return await this.db.prisma.domain.update({ where: { name }, data });
    } catch (e) {
      if (e instanceof Prisma.PrismaClientKnownRequestError && e.code === 'P2025') return null;
      throw e;
    }
  }

  async delete(name: string): Promise<DomainRow | null> {
    try {
      return await this.db.prisma.domain.delete({ where: { name } });
    } catch (e) {
      if (e instanceof Prisma.PrismaClientKnownRequestError && e.code === 'P2025') return null;
      throw e;
    }
  }

  /**
   * Makes the domains of the YAML file the truth for source=config, in one transaction:
   * add new ones, update changed ones (also taking over API-created ones of the same name),
   * remove config domains no longer in the file. API-created domains are left alone.
   */
  async syncConfigDomains(specs: Required<DomainSpec>[], nextCheckAt: () => Date): Promise<{ added: string[]; updated: string[]; removed: string[] }> {
    // A file may list thousands of domains: new ones go in with one INSERT per batch, and the
    // transaction gets room to finish (Prisma aborts interactive transactions after 5 s by default).
    return this.db.prisma.$transaction(
      async (tx) => {
        const existing = await tx.domain.findMany();
        const byName = new Map(existing.map((d) => [d.name, d]));
        const wanted = new Set(specs.map((s) => s.name));
        const toAdd = specs.filter((spec) => !byName.has(spec.name));
        for (let i = 0; i < toAdd.length; i += 1000) {
          await tx.domain.createMany({ data: toAdd.slice(i, i + 1000).map((spec) => ({ ...spec, source: 'config', nextCheckAt: nextCheckAt() })) });
        }
        const updated: string[] = [];
        for (const spec of specs) {
          const row = byName.get(spec.name);
          if (row && (row.source !== 'config' || !sameSpec(row, spec))) {
            await tx.domain.update({ where: { id: row.id }, data: { ...spec, source: 'config' } });
            updated.push(spec.name);
          }
        }
        const gone = existing.filter((d) => d.source === 'config' && !wanted.has(d.name));
        if (gone.length > 0) await tx.domain.deleteMany({ where: { id: { in: gone.map((d) => d.id) } } });
        return { added: toAdd.map((s) => s.name), updated, removed: gone.map((d) => d.name) };
      },
      { timeout: 120_000, maxWait: 30_000 },
    );
  }
}

function sameSpec(row: DomainRow, spec: Required<DomainSpec>): boolean {
  return (
    row.intervalSeconds === spec.intervalSeconds &&
    row.enabled === spec.enabled &&
    JSON.stringify(row.submissionHosts) === JSON.stringify(spec.submissionHosts) &&
    JSON.stringify(row.sendingIps) === JSON.stringify(spec.sendingIps) &&
    JSON.stringify(row.dkimSelectors) === JSON.stringify(spec.dkimSelectors) &&
    JSON.stringify(row.labels) === JSON.stringify(spec.labels)
  );
}
