import type { z } from 'zod';

/**
 * Turns zod issues into the lines an operator reads: `<path>: <message>`, where the path is the
 * variable or YAML path (`notifications[1].smtp.port`). Messages are written by the schemas; a
 * few name other paths and use placeholders filled in here: `{root}` (the path the parse started
 * at), `{parent}` (the path of the object holding the field) and `{key}` (an unknown key).
 */
export function formatIssues(issues: readonly z.core.$ZodIssue[], root: string): string[] {
  return issues.flatMap((issue) => {
    const path = joinPath(root, issue.path);
    const parent = joinPath(root, issue.path.slice(0, -1));
    const fill = (message: string, at: string, key = '') =>
      `${at}: ${message.replaceAll('{root}', root).replaceAll('{parent}', parent).replaceAll('{key}', key)}`;
    if (issue.code === 'unrecognized_keys') {
      // One line per key, so each names its own path like every other problem.
      return issue.keys.map((key) => fill(issue.message, joinPath(path, [key]), key));
    }
    return [fill(issue.message, path)];
  });
}

export function joinPath(root: string, path: readonly PropertyKey[]): string {
  let out = root;
  for (const part of path) {
    if (typeof part === 'number') out += `[${part}]`;
    else out += out === '' ? String(part) : `.${String(part)}`;
  }
  return out;
}
