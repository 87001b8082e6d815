import { existsSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

export interface PrismaPaths {
  readonly schemaPath: string;
  readonly migrationsDir: string;
}

function findUp(start: string, relative: string): string | undefined {
  let dir = path.resolve(start);
  for (;;) {
    if (existsSync(path.join(dir, relative))) return dir;
    const parent = path.dirname(dir);
    if (parent === dir) return undefined;
    dir = parent;
  }
}

/**
 * Locates prisma/ whether this code runs from the sources (vitest), from dist/ in the repository
 * or from an image where /app holds dist/ and prisma/: the module's own location is tried first
 * because the working directory of a service manager is arbitrary.
 */
export function resolvePrismaPaths(): PrismaPaths {
  const here = path.dirname(fileURLToPath(import.meta.url));
  const marker = path.join('prisma', 'migrations');
  const root = findUp(here, marker) ?? findUp(process.cwd(), marker) ?? findUp(here, 'prisma') ?? process.cwd();
  return {
    schemaPath: path.join(root, 'prisma', 'schema.prisma'),
    migrationsDir: path.join(root, 'prisma', 'migrations'),
  };
}
