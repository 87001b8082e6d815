import { createMigration } from '../schema-engine.js';
import { cliEngineTrace, cliLog, runCli } from './cli-log.js';

// npm run db:migrate:create -- <name>
runCli(async () => {
  const name = process.argv.slice(2).join('_');
  if (!name) {
    console.error('usage: npm run db:migrate:create -- <name>   (e.g. add_domain_owner)');
    return 2;
  }
  const created = await createMigration(name, { log: cliLog, engineTrace: cliEngineTrace });
  if (created) console.log(`review ${created.file} and commit it with the schema change`);
  return 0;
});
