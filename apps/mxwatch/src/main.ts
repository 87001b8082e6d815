import 'reflect-metadata';
import { BadRequestException, RequestMethod, ValidationPipe, type ValidationError } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { AppModule } from './app.module.js';
import { readFileSync } from 'node:fs';
import { AppLogger } from './common/app-logger.js';
import { applyMemoryDefaults } from './common/memory-defaults.js';
import { CONFIG_EXTENSIONS } from './config-extensions.js';
import { ConfigError } from './config/config-error.js';
import { configSummary } from './config/config-summary.js';
import { processEnv } from './config/env.js';
import { loadConfig } from './config/load-config.js';
import { useNodeExtraCaFile } from './transport/net/tls-upgrader.js';
import { PAGE_ROUTES } from './pages/page-routes.js';
import { rolePlan } from './runtime/roles.js';
import { createServer } from 'node:net';

function flatten(errors: ValidationError[], prefix = ''): string[] {
  return errors.flatMap((e) => [
    ...Object.values(e.constraints ?? {}).map((m) => (prefix ? `${prefix}.${m}` : m)),
    ...flatten(e.children ?? [], prefix ? `${prefix}.${e.property}` : e.property),
  ]);
}

/** The package version, from the package.json beside dist/ (also in the image), not npm's environment. */
function packageVersion(): string {
  try {
    return (JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as { version?: string }).version ?? '0.0.0';
  } catch {
    return '0.0.0';
  }
}

/** Binds and releases host:port; fails with the reason (EADDRINUSE, EACCES, EADDRNOTAVAIL) when the service could not listen there. */
function assertPortFree(host: string, port: number): Promise<void> {
  return new Promise((resolve, reject) => {
    const probe = createServer();
    probe.once('error', (e: NodeJS.ErrnoException) =>
      reject(new Error(e.code === 'EADDRINUSE' ? `port ${port} on ${host} is already in use (PORT / HOST)` : `cannot listen on ${host}:${port}: ${e.message}`)),
    );
    probe.listen({ host, port, exclusive: true }, () => probe.close(() => resolve()));
  });
}

async function bootstrap(): Promise<void> {
  let config;
  try {
    config = loadConfig({ env: processEnv(), extensions: CONFIG_EXTENSIONS });
  } catch (e) {
    if (e instanceof ConfigError) {
      process.stderr.write(`mxwatch: ${e.message}\n`);
      process.exit(2);
    }
    throw e;
  }
  // Before the database is opened: the WebAssembly engines are compiled then (common/memory-defaults.ts).
  const v8Flags = applyMemoryDefaults({ execArgv: process.execArgv, nodeOptions: processEnv().NODE_OPTIONS, postgres: config.databaseUrl !== undefined });
  const logger = new AppLogger(config.logLevel);
  useNodeExtraCaFile(config.nodeExtraCaCerts);
  if (v8Flags.length > 0) logger.log({ msg: 'memory defaults', v8Flags }, 'Bootstrap');
  logger.log(configSummary(config), 'Bootstrap');
  // Migrations, the database lock and the scheduler come before Nest binds the port: a port
  // already taken must stop the start in a second, not after the database is up.
  await assertPortFree(config.host, config.port);
  const app = await NestFactory.create(AppModule.forRoot(config, logger), { logger, bufferLogs: false });
  // Our own signal handling instead of enableShutdownHooks(): the same lifecycle hooks run
  // (app.close()), then the process exits 0, which is what Docker and systemd expect of a clean stop.
  let closing = false;
  for (const signal of ['SIGTERM', 'SIGINT'] as const) {
    process.once(signal, () => {
      if (closing) return;
      closing = true;
      logger.log({ msg: 'shutting down', signal }, 'Bootstrap');
      const force = setTimeout(() => process.exit(1), 30_000);
      force.unref();
      app.close().then(
        () => process.exit(0),
        (e: unknown) => {
          logger.error(e, 'Bootstrap');
          process.exit(1);
        },
      );
    });
  }
  app.setGlobalPrefix('api/v1', {
    exclude: [
      { path: 'health/live', method: RequestMethod.GET },
      { path: 'health/ready', method: RequestMethod.GET },
      { path: 'metrics', method: RequestMethod.GET },
      ...PAGE_ROUTES,
    ],
  });
  // Validation and the OpenAPI document where the REST API is served: a worker loads neither.
  if (rolePlan(config).http === 'full') {
    app.useGlobalPipes(
      new ValidationPipe({
        whitelist: true,
        forbidNonWhitelisted: true,
        transform: true,
        exceptionFactory: (errors) => new BadRequestException(flatten(errors)),
      }),
    );
    const { setupOpenApi } = await import('./api/openapi.js');
    setupOpenApi(app, packageVersion());
  }
  await app.listen(config.port, config.host);
  logger.log({ msg: 'mxwatch listening', url: await app.getUrl(), database: config.databaseUrl ? 'postgres' : 'pglite' }, 'Bootstrap');
}

bootstrap().catch((e: unknown) => {
  process.stderr.write(`mxwatch: failed to start: ${e instanceof Error ? (/already in use|cannot listen on/.test(e.message) ? e.message : (e.stack ?? e.message)) : String(e)}\n`);
  process.exit(1);
});
