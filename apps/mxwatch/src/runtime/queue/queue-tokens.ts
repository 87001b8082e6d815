/** Injection tokens of the queue module (kept apart so services can import them without cycles). */
export const CHECK_QUEUE_OPTIONS = Symbol('CHECK_QUEUE_OPTIONS');
/** Present on an `api` replica with Redis: manual checks go through the queue. */
export const REMOTE_CHECKS = Symbol('REMOTE_CHECKS');

export interface RemoteChecks {
  /** The same answer as an in-process manual check, produced by a worker. */
  checkNow(name: string): Promise<unknown>;
}
