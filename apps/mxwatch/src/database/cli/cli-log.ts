import type { DatabaseLog } from '../schema-engine.js';

export const cliLog: DatabaseLog = (message) => console.log(message);

// The engine's own tracing is noise unless someone is debugging it.
export const cliEngineTrace: DatabaseLog | undefined = process.env.MXWATCH_DB_DEBUG ? (line) => console.error(line) : undefined;

/** CLI entry points report failures as one line plus a non-zero exit, not a stack trace. */
export function runCli(main: () => Promise<number>): void {
  main().then(
    (code) => {
      process.exitCode = code;
    },
    (error: unknown) => {
      console.error(`error: ${error instanceof Error ? error.message : String(error)}`);
      if (process.env.MXWATCH_DB_DEBUG) console.error(error);
      process.exitCode = 1;
    },
  );
}
