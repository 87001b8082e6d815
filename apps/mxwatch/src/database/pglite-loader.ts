import type { PGlite } from '@electric-sql/pglite';
import type { PrismaPGlite } from 'pglite-prisma-adapter';

/**
 * PGlite and its Prisma adapter, loaded on first use: a process on PostgreSQL (every process of a
 * scaled-out deployment) never loads them, which is ~5 MB of RSS it does not spend.
 */
export async function loadPGlite(): Promise<{ PGlite: typeof PGlite; PrismaPGlite: typeof PrismaPGlite }> {
  const [pglite, adapter] = await Promise.all([import('@electric-sql/pglite'), import('pglite-prisma-adapter')]);
  return { PGlite: pglite.PGlite, PrismaPGlite: adapter.PrismaPGlite };
}
