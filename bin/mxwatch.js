#!/usr/bin/env node
// Launcher of the `mxwatch` command: runs the compiled CLI (dist/cli/main.js, made by `npm run build`).
import { existsSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const main = path.join(path.dirname(fileURLToPath(import.meta.url)), '..', 'dist', 'cli', 'main.js');
if (!existsSync(main)) {
  process.stderr.write(`mxwatch: ${main} is missing: build it first with "npm run build"\n`);
  process.exit(2);
}
const { runFromProcess } = await import(pathToFileURL(main).href);
runFromProcess();
