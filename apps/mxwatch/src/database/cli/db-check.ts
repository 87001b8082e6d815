import { diffSchemaAgainstMigrations } from '../schema-engine.js';
import { cliEngineTrace, cliLog, runCli } from './cli-log.js';

// npm run db:check: fails when prisma/schema.prisma and prisma/migrations disagree. Runs on an
// in-memory PGlite, so CI needs no database server for it.
runCli(async () => {
  const diff = await diffSchemaAgainstMigrations({ log: cliLog, engineTrace: cliEngineTrace });
  if (diff === '') {
    console.log('prisma/schema.prisma and prisma/migrations are in sync');
    return 0;
  }
  console.error('prisma/schema.prisma differs from what prisma/migrations produce; the missing migration would be:\n');
  console.error(diff);
  console.error('\nrun: npm run db:migrate:create -- <what_changed>');
  return 1;
});
