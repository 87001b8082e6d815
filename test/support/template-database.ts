import { openDatabase } from '../../apps/mxwatch/src/database/open-database.js';
import { createTestDatabase, TEMPLATE_ENV } from './postgres.js';

interface Shared {
  ready: Promise<{ name: string; drop(): Promise<void> }>;
  users: number;
}

const KEY = Symbol.for('mxwatch.test.templateDatabase');

/**
 * Global setup shared by the medium and e2e tiers: migrates one PostgreSQL database once, and lets
 * every suite's createTestDatabase() copy it. Vitest runs both tiers' setups in one process, at
 * once: they share one template (the WASM schema engine is one instance per process and must not
 * migrate twice at the same time). Returns the teardown; the last one drops the template.
 */
export async function setUpTemplateDatabase(): Promise<() => Promise<void>> {
  const g = globalThis as unknown as Record<symbol, Shared | undefined>;
  let shared = g[KEY];
  if (!shared) {
    shared = {
      users: 0,
      ready: (async () => {
        const db = await createTestDatabase('mxwatch_template', { empty: true });
        const database = await openDatabase({ databaseUrl: db.url, dataDir: '/nonexistent' });
        await database.close();
        return db;
      })(),
    };
    g[KEY] = shared;
  }
  shared.users++;
  const db = await shared.ready;
  process.env[TEMPLATE_ENV] = db.name;
  return async () => {
    if (--shared.users > 0) return;
    g[KEY] = undefined;
    delete process.env[TEMPLATE_ENV];
    await db.drop();
  };
}
