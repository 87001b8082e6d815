import { closeSync, mkdirSync, openSync, readFileSync, unlinkSync, writeSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { DatabaseSetupError } from './database-setup.error.js';

export const LOCK_FILE_NAME = '.mxwatch.lock';

interface LockOwner {
  pid: number;
  /** Linux process start time (clock ticks since boot) so that a recycled pid is not mistaken for the owner. */
  startTime: string | null;
  hostname: string;
  acquiredAt: string;
}

export interface DataDirLock {
  readonly path: string;
  release(): void;
}

// Directories this process holds: a second open in the same process must fail too, and a lock file
// carrying our own pid that is not in here was left by an earlier incarnation (container restart).
const heldByThisProcess = new Set<string>();

function processStartTime(pid: number): string | null {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // The command name (field 2) may contain spaces and parentheses; fields after it are fixed.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return fields[19] ?? null;
  } catch {
    return null;
  }
}

function isAlive(owner: LockOwner): boolean {
  try {
    process.kill(owner.pid, 0);
  } catch (error) {
    // EPERM: it exists but belongs to another user, still a live owner.
    if ((error as NodeJS.ErrnoException).code !== 'EPERM') return false;
  }
  if (owner.startTime === null) return true;
  const current = processStartTime(owner.pid);
  return current === null || current === owner.startTime;
}

function readOwner(file: string): LockOwner | null {
  try {
    const parsed = JSON.parse(readFileSync(file, 'utf8')) as Partial<LockOwner>;
    return typeof parsed.pid === 'number' ? (parsed as LockOwner) : null;
  } catch {
    return null;
  }
}

function tryCreate(file: string, owner: LockOwner): boolean {
  let fd: number;
  try {
    fd = openSync(file, 'wx');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'EEXIST') return false;
    throw error;
  }
  try {
    writeSync(fd, `${JSON.stringify(owner)}\n`);
  } finally {
    closeSync(fd);
  }
  return true;
}

/**
 * Makes this process the only user of an embedded database directory: PGlite itself takes no lock,
 * and two processes writing one data directory corrupt it. A lock whose owner is gone (crash,
 * SIGKILL, container recreated) is taken over.
 */
export function acquireDataDirLock(dataDir: string): DataDirLock {
  const dir = path.resolve(dataDir);
  const file = path.join(dir, LOCK_FILE_NAME);
  if (heldByThisProcess.has(dir)) {
    throw new DatabaseSetupError('data_dir_locked', `the embedded database in ${dir} is already open in this process`);
  }
  mkdirSync(dir, { recursive: true });
  const me: LockOwner = {
    pid: process.pid,
    startTime: processStartTime(process.pid),
    hostname: os.hostname(),
    acquiredAt: new Date().toISOString(),
  };

  for (let attempt = 0; ; attempt++) {
    if (tryCreate(file, me)) break;
    const owner = readOwner(file);
    // An unreadable lock file may be one being written right now; look again once before judging.
    if (owner === null && attempt === 0) continue;
    const stale = owner === null || owner.pid === process.pid || !isAlive(owner);
    if (!stale || attempt >= 2) {
      throw new DatabaseSetupError(
        'data_dir_locked',
        `the embedded database in ${dir} is in use by another mxwatch process (pid ${owner?.pid} on ${owner?.hostname}, since ${owner?.acquiredAt}); ` +
          `run one process per data directory, or set DATABASE_URL to share a PostgreSQL server. ` +
          `If that process is gone, delete ${file}`,
      );
    }
    try {
      unlinkSync(file);
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
    }
  }

  heldByThisProcess.add(dir);
  // A process that exits without close() (uncaught error, process.exit) must not leave a lock
  // that names a pid which may be recycled.
  const onExit = () => removeIfOurs(file);
  process.once('exit', onExit);
  let released = false;
  return {
    path: file,
    release() {
      if (released) return;
      released = true;
      process.removeListener('exit', onExit);
      heldByThisProcess.delete(dir);
      removeIfOurs(file);
    },
  };
}

function removeIfOurs(file: string): void {
  const owner = readOwner(file);
  if (owner?.pid !== process.pid) return;
  try {
    unlinkSync(file);
  } catch {
    // Already gone: nothing to release.
  }
}
