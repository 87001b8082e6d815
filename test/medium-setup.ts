import { setUpTemplateDatabase } from './support/template-database.js';

/** The medium tier (specs that need PostgreSQL, PGlite, Redis or a spawned resolver): migrate once. */
export default async function setup(): Promise<() => Promise<void>> {
  return setUpTemplateDatabase();
}
