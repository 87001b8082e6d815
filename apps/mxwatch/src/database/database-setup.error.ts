export type DatabaseSetupFailure =
  | 'bad_url'
  | 'unreachable'
  | 'auth_failed'
  | 'database_missing'
  | 'data_dir_locked'
  | 'migrations_missing'
  | 'migration_failed';

/**
 * Raised when the database cannot be opened or migrated. `reason` is what a caller branches on;
 * the message is written for the operator reading the boot log, and never contains a password.
 */
export class DatabaseSetupError extends Error {
  override readonly name = 'DatabaseSetupError';

  constructor(
    readonly reason: DatabaseSetupFailure,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}
