import { loadConfig } from '../../config/load-config.js';
import { applyMigrations } from '../schema-engine.js';
import { cliEngineTrace, cliLog, runCli } from './cli-log.js';

// npm run db:migrate (node dist/database/cli/db-migrate.js in an image): applies pending migrations
// to the database the app would use, as configured by DATABASE_URL / MXWATCH_DATA_DIR or the YAML
// file, so that an operator cannot migrate one database and run on another.
runCli(async () => {
  const config = loadConfig({ env: process.env });
  const { applied } = await applyMigrations(
    config.databaseUrl ? { kind: 'postgres', url: config.databaseUrl } : { kind: 'pglite', dataDir: config.dataDir },
    { log: cliLog, engineTrace: cliEngineTrace },
  );
  if (applied.length === 0) cliLog('nothing to apply');
  return 0;
});
