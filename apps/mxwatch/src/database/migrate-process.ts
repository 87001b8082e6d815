/**
 * Entry of the child process that applies migrations to a PostgreSQL database (open-database.ts):
 * Prisma's schema engine is WebAssembly, and the memory it takes (its instance, its compiled
 * code, what the allocator keeps after it) stays with a process that ran it: ~14 MB of the
 * service's resident memory for the rest of its life. Run here, it leaves with this process.
 */
import { DatabaseSetupError, type DatabaseSetupFailure } from './database-setup.error.js';
import { applyMigrations } from './schema-engine.js';

export interface MigrateRequest {
  url: string;
  migrationsDir?: string;
}

export type MigrateMessage =
  | { log: string }
  | { done: { applied: string[] } }
  | { failed: { reason: DatabaseSetupFailure | null; message: string } };

function send(message: MigrateMessage, then?: () => void): void {
  process.send!(message, undefined, {}, () => then?.());
}

async function run(request: MigrateRequest): Promise<void> {
  try {
    const result = await applyMigrations({ kind: 'postgres', url: request.url }, { migrationsDir: request.migrationsDir, log: (log) => send({ log }) });
    send({ done: { applied: result.applied } }, () => process.exit(0));
  } catch (error) {
    const reason = error instanceof DatabaseSetupError ? error.reason : null;
    send({ failed: { reason, message: error instanceof Error ? error.message : String(error) } }, () => process.exit(0));
  }
}

if (process.send) {
  // The service went away: nothing waits for the outcome (the migration lock is released with the connection).
  process.once('disconnect', () => process.exit(1));
  process.once('message', (request: MigrateRequest) => void run(request));
}
