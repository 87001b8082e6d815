import { dbDebugFromEnv } from '../../config/env.js';
import type { DatabaseLog } from '../schema-engine.js';

export const cliLog: DatabaseLog = (message) => console.log(message);

/** MXWATCH_DB_DEBUG=true: the schema engine's own trace, and stack traces of failures. */
const debug = dbDebugFromEnv();

// The engine's own tracing is noise unless someone is debugging it.
export const cliEngineTrace: DatabaseLog | undefined = debug ? (line) => console.error(line) : undefined;

/** CLI entry points report failures as one line plus a non-zero exit, not a stack trace. */
export function runCli(main: () => Promise<number>): void {
  main().then(
    (code) => {
      process.exitCode = code;
    },
    (error: unknown) => {
      console.error(`error: ${error instanceof Error ? error.message : String(error)}`);
      if (debug) console.error(error);
      process.exitCode = 1;
    },
  );
}
