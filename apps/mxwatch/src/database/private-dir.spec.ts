import { chmod, mkdir, mkdtemp, rm, stat, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { makePrivate } from './private-dir.js';

const mode = async (p: string) => (await stat(p)).mode & 0o777;

describe(makePrivate.name, () => {
  let root: string;
  let outside: string;

  beforeEach(async () => {
    root = await mkdtemp(path.join(tmpdir(), 'mxwatch-private-'));
    outside = await mkdtemp(path.join(tmpdir(), 'mxwatch-outside-'));
  });
  afterEach(async () => {
    await rm(root, { recursive: true, force: true });
    await rm(outside, { recursive: true, force: true });
  });

  it('should make every directory 0700 and every file 0600, however open they were', async () => {
    await mkdir(path.join(root, 'base', '1'), { recursive: true });
    await writeFile(path.join(root, 'PG_VERSION'), '17');
    await writeFile(path.join(root, 'base', '1', '1259'), 'x');
    await chmod(path.join(root, 'base'), 0o777);
    await chmod(path.join(root, 'PG_VERSION'), 0o666);
    await chmod(path.join(root, 'base', '1', '1259'), 0o644);
    await chmod(root, 0o755);

    const result = await makePrivate(root);

    expect(result.failed).toEqual([]);
    expect(await mode(root)).toBe(0o700);
    expect(await mode(path.join(root, 'base'))).toBe(0o700);
    expect(await mode(path.join(root, 'base', '1'))).toBe(0o700);
    expect(await mode(path.join(root, 'PG_VERSION'))).toBe(0o600);
    expect(await mode(path.join(root, 'base', '1', '1259'))).toBe(0o600);
    expect((await makePrivate(root)).changed).toBe(0);
  });

  it('should neither follow nor change a symbolic link that points outside', async () => {
    const target = path.join(outside, 'shared.conf');
    await writeFile(target, 'x');
    await chmod(target, 0o644);
    await chmod(outside, 0o755);
    await symlink(target, path.join(root, 'link-to-file'));
    await symlink(outside, path.join(root, 'link-to-dir'));

    await makePrivate(root);

    expect(await mode(target)).toBe(0o644);
    expect(await mode(outside)).toBe(0o755);
  });
});
