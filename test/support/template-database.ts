import { openDatabase } from '../../apps/mxwatch/src/database/open-database.js';
import { createTestDatabase, TEMPLATE_ENV } from './postgres.js';

/**
 * Global setup shared by the medium and e2e tiers: migrates one PostgreSQL database once, and lets
 * every suite's createTestDatabase() copy it. Returns the teardown.
 */
export async function setUpTemplateDatabase(): Promise<() => Promise<void>> {
  const db = await createTestDatabase('mxwatch_template', { empty: true });
  const database = await openDatabase({ databaseUrl: db.url, dataDir: '/nonexistent' });
  await database.close();
  process.env[TEMPLATE_ENV] = db.name;
  return async () => {
    delete process.env[TEMPLATE_ENV];
    await db.drop();
  };
}
