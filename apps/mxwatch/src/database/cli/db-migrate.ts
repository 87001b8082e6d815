import { ConfigError } from '../../config/config-error.js';
import { processEnv } from '../../config/env.js';
import { loadConfig } from '../../config/load-config.js';
import { applyMigrations } from '../schema-engine.js';
import { cliEngineTrace, cliLog, runCli } from './cli-log.js';

// npm run db:migrate (node dist/database/cli/db-migrate.js in an image): applies pending migrations
// to the database the app would use, as configured by DATABASE_URL / MXWATCH_DATA_DIR or the YAML
// file, so that an operator cannot migrate one database and run on another.
runCli(async () => {
  let config;
  try {
    config = loadConfig({ env: processEnv() });
  } catch (e) {
    // The same words and exit code as the service: the operator fixes one configuration.
    if (e instanceof ConfigError) {
      console.error(`mxwatch: ${e.message}`);
      return 2;
    }
    throw e;
  }
  const { applied } = await applyMigrations(
    config.databaseUrl ? { kind: 'postgres', url: config.databaseUrl } : { kind: 'pglite', dataDir: config.dataDir },
    { log: cliLog, engineTrace: cliEngineTrace },
  );
  if (applied.length === 0) cliLog('nothing to apply');
  return 0;
});
