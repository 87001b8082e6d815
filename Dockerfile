# syntax=docker/dockerfile:1
# mxwatch production image. Build: docker build -t mxwatch .   Run: see docker-compose.yml.
# The image runs the current Node LTS (24); the project itself supports Node 20.19 and later
# (package.json engines), which is what development and CI run.

FROM node:24-bookworm-slim AS build
WORKDIR /app
# Prisma's CLI phones home unless told not to.
ENV CHECKPOINT_DISABLE=1
COPY package.json package-lock.json ./
# package.json "allowScripts" denies every install script this project depends on (Prisma's
# engine download among them); --ignore-scripts keeps that policy whatever npm the image has.
RUN npm ci --ignore-scripts
COPY . .
RUN npm run build \
 && npm prune --omit=dev --ignore-scripts

FROM node:24-bookworm-slim AS runtime
# MALLOC_ARENA_MAX=2: glibc gives each thread that allocates (V8's compiler and GC helpers) an
# arena of its own, and freed memory stays in each; two arenas kept ~10 MB less RSS at 10,000
# domains for the same CPU (bench/README.md). npm start sets the same; an operator's value wins.
ENV NODE_ENV=production \
    MXWATCH_DATA_DIR=/data \
    MALLOC_ARENA_MAX=2 \
    PORT=3000
WORKDIR /app
RUN groupadd --system --gid 10001 mxwatch \
 && useradd --system --uid 10001 --gid mxwatch --home-dir /app --no-create-home --shell /usr/sbin/nologin mxwatch \
 && mkdir -p /data \
 && chown mxwatch:mxwatch /data
# Application files stay owned by root: the process can read but not rewrite its own code.
COPY --from=build /app/package.json ./package.json
COPY --from=build /app/node_modules ./node_modules
COPY --from=build /app/dist ./dist
# The migrations runner reads prisma/schema.prisma and prisma/migrations at boot.
COPY --from=build /app/prisma ./prisma
USER mxwatch
# The embedded database (used when DATABASE_URL is unset) lives here.
VOLUME ["/data"]
EXPOSE 3000
# The slim image has no curl: ask Node (it has fetch) for the readiness endpoint.
HEALTHCHECK --interval=30s --timeout=5s --start-period=60s --retries=3 \
  CMD ["node", "-e", "fetch('http://127.0.0.1:' + (process.env.PORT || 3000) + '/health/ready', { signal: AbortSignal.timeout(4000) }).then((r) => process.exit(r.ok ? 0 : 1), () => process.exit(1))"]
CMD ["node", "dist/main.js"]
