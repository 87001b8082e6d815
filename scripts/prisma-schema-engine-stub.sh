#!/bin/sh
# Prisma's CLI insists on locating a native schema engine even for `prisma generate`, which
# never runs it. The native binary cannot be downloaded here or in air-gapped installs;
# migrations run through the WASM engine instead (apps/mxwatch/src/database/schema-engine.ts).
echo "mxwatch: the native Prisma schema engine is not installed; use npm run db:migrate / db:migrate:create / db:check" >&2
exit 1
