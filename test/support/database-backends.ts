import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { openDatabase, type Database } from '../../apps/mxwatch/src/database/open-database.js';
import { createTestDatabase } from './postgres.js';

export interface OpenBackend {
  /** The first (or only) connection. */
  database: Database;
  /** On PostgreSQL, `pools` separate connections to one database (as that many workers); on PGlite, the one. */
  databases: Database[];
  close(): Promise<void>;
}

/**
 * The two databases the repositories run on, for `describe.each`: a fresh copy of the migrated
 * PostgreSQL template, and an embedded PGlite in a temporary directory.
 */
export function databaseBackends(dbPrefix: string, pools = 1): Array<{ name: string; open(): Promise<OpenBackend> }> {
  return [
    {
      name: pools > 1 ? `PostgreSQL, ${pools} processes` : 'PostgreSQL',
      async open() {
        const db = await createTestDatabase(dbPrefix);
        const databases: Database[] = [];
        for (let i = 0; i < pools; i++) databases.push(await openDatabase({ databaseUrl: db.url, dataDir: '/nonexistent' }));
        return {
          database: databases[0]!,
          databases,
          close: async () => {
            for (const d of databases) await d.close();
            await db.drop();
          },
        };
      },
    },
    {
      name: 'embedded PGlite',
      async open() {
        const dir = mkdtempSync(path.join(tmpdir(), `${dbPrefix.replace(/_/g, '-')}-`));
        const database = await openDatabase({ dataDir: dir });
        return { database, databases: [database], close: async () => (await database.close(), rmSync(dir, { recursive: true, force: true })) };
      },
    },
  ];
}
