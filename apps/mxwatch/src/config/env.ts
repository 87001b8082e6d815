/**
 * The process environment, read here and nowhere else: the service gets its values from the
 * validated AppConfig (main.ts), the database CLIs from the few readers below.
 */
import { boolean } from './setting-schemas.js';

export function processEnv(): Readonly<Record<string, string | undefined>> {
  return process.env;
}

/**
 * MXWATCH_DB_DEBUG for the database CLIs, which must run (db:check, db:migrate:create) whether or
 * not the rest of the service's configuration is valid. A value that is not a boolean is off.
 */
export function dbDebugFromEnv(env: Readonly<Record<string, string | undefined>> = processEnv()): boolean {
  const raw = env.MXWATCH_DB_DEBUG;
  if (raw === undefined || raw.trim() === '') return false;
  const r = boolean.safeParse(raw);
  return r.success && r.data;
}
