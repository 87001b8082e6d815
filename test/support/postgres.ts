import pg from 'pg';
import { randomBytes } from 'node:crypto';

export const PG_ADMIN_URL = process.env.MXWATCH_TEST_PG_URL ?? 'postgresql://postgres@127.0.0.1:5432/postgres';

/**
 * Set by the medium and e2e global setups: a database migrated once per test run, copied for each
 * suite (CREATE DATABASE ... TEMPLATE), so no suite pays for applying every migration again.
 */
export const TEMPLATE_ENV = 'MXWATCH_TEST_PG_TEMPLATE';

/**
 * A fresh PostgreSQL database for one suite; `drop()` removes it. Under a global setup it is a copy
 * of the migrated template (the service then finds nothing to apply); otherwise it is empty.
 */
export async function createTestDatabase(prefix = 'mxwatch_e2e', options: { empty?: boolean } = {}): Promise<{ url: string; name: string; drop(): Promise<void> }> {
  const name = `${prefix}_${randomBytes(4).toString('hex')}`;
  const template = options.empty ? undefined : process.env[TEMPLATE_ENV];
  const admin = new pg.Client({ connectionString: PG_ADMIN_URL });
  await admin.connect();
  try {
    await admin.query(template ? `CREATE DATABASE ${name} TEMPLATE ${template}` : `CREATE DATABASE ${name}`);
  } finally {
    await admin.end();
  }
  const u = new URL(PG_ADMIN_URL);
  u.pathname = `/${name}`;
  return {
    url: u.toString(),
    name,
    async drop() {
      const c = new pg.Client({ connectionString: PG_ADMIN_URL });
      await c.connect();
      try {
        await c.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
      } finally {
        await c.end();
      }
    },
  };
}
