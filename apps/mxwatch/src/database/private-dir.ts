import { chmod, lstat, readdir } from 'node:fs/promises';
import path from 'node:path';

export const PRIVATE_DIR_MODE = 0o700;
export const PRIVATE_FILE_MODE = 0o600;

export interface MakePrivateResult {
  /** Entries whose mode was changed. */
  changed: number;
  /** Entries whose mode could not be changed (owned by another user, vanished mid-walk), with the reason. */
  failed: string[];
}

/**
 * Makes a directory tree readable by its owner only: directories 0700, files 0600. PGlite sets
 * the mode of the files it creates itself (0666, whatever the umask), and a database holds the
 * monitored domains, their notification targets and history, so the embedded data directory is
 * tightened at every open and close, whether mxwatch created it or found it. Symbolic links are
 * neither followed nor changed: a link could point anywhere on the host.
 */
export async function makePrivate(root: string): Promise<MakePrivateResult> {
  const result: MakePrivateResult = { changed: 0, failed: [] };
  const visit = async (entry: string): Promise<void> => {
    let stat;
    try {
      stat = await lstat(entry);
    } catch (error) {
      result.failed.push(`${entry}: ${(error as NodeJS.ErrnoException).code ?? String(error)}`);
      return;
    }
    if (stat.isSymbolicLink()) return;
    const wanted = stat.isDirectory() ? PRIVATE_DIR_MODE : PRIVATE_FILE_MODE;
    if ((stat.mode & 0o777) !== wanted) {
      try {
        await chmod(entry, wanted);
        result.changed++;
      } catch (error) {
        result.failed.push(`${entry}: ${(error as NodeJS.ErrnoException).code ?? String(error)}`);
      }
    }
    if (!stat.isDirectory()) return;
    let names: string[];
    try {
      names = await readdir(entry);
    } catch (error) {
      result.failed.push(`${entry}: ${(error as NodeJS.ErrnoException).code ?? String(error)}`);
      return;
    }
    for (const name of names) await visit(path.join(entry, name));
  };
  await visit(root);
  return result;
}
