import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { defineConfig } from 'prisma/config';

const root = path.dirname(fileURLToPath(import.meta.url));

// The CLI resolves a native schema engine before `generate` even though generation never runs
// it; the stub satisfies that lookup offline. Migrations go through the WASM engine instead
// (npm run db:migrate, db:migrate:create, db:check).
process.env.PRISMA_SCHEMA_ENGINE_BINARY ??= path.join(root, 'scripts/prisma-schema-engine-stub.sh');
// Otherwise every CLI run tries to reach Prisma's telemetry endpoint, which is unreachable here.
process.env.CHECKPOINT_DISABLE ??= '1';

export default defineConfig({
  schema: path.join(root, 'prisma/schema.prisma'),
  migrations: { path: path.join(root, 'prisma/migrations') },
});
