import { existsSync } from 'node:fs';
import { MAIN } from '../support/app-process.js';

/** End-to-end suites drive the built service: `npm test` builds it first. */
export default function setup(): void {
  if (!existsSync(MAIN)) throw new Error(`${MAIN} is missing: run "npm run build" (npm test does) before the e2e suite`);
}
