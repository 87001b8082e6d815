import { existsSync } from 'node:fs';
import { MAIN } from '../support/app-process.js';
import { setUpTemplateDatabase } from '../support/template-database.js';

/** End-to-end suites drive the built service (`npm test` builds it first) on copies of one migrated database. */
export default async function setup(): Promise<() => Promise<void>> {
  if (!existsSync(MAIN)) throw new Error(`${MAIN} is missing: run "npm run build" (npm test does) before the e2e suite`);
  return setUpTemplateDatabase();
}
