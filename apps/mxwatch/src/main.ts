import 'reflect-metadata';
import { BadRequestException, RequestMethod, ValidationPipe, type ValidationError } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { DocumentBuilder, SwaggerModule } from '@nestjs/swagger';
import { AppModule } from './app.module.js';
import { AppLogger } from './common/app-logger.js';
import { ConfigError } from './config/config-error.js';
import { loadConfig } from './config/load-config.js';
import { PAGE_ROUTES } from './pages/page-routes.js';

function flatten(errors: ValidationError[], prefix = ''): string[] {
  return errors.flatMap((e) => [
    ...Object.values(e.constraints ?? {}).map((m) => (prefix ? `${prefix}.${m}` : m)),
    ...flatten(e.children ?? [], prefix ? `${prefix}.${e.property}` : e.property),
  ]);
}

async function bootstrap(): Promise<void> {
  let config;
  try {
    config = loadConfig({ env: process.env });
  } catch (e) {
    if (e instanceof ConfigError) {
      process.stderr.write(`mxwatch: ${e.message}\n`);
      process.exit(2);
    }
    throw e;
  }
  const logger = new AppLogger(config.logLevel);
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
  app.useGlobalPipes(
    new ValidationPipe({
      whitelist: true,
      forbidNonWhitelisted: true,
      transform: true,
      exceptionFactory: (errors) => new BadRequestException(flatten(errors)),
    }),
  );
  const document = SwaggerModule.createDocument(
    app,
    new DocumentBuilder()
      .setTitle('mxwatch')
      .setDescription('Email deliverability and DNS health monitor')
      .setVersion(process.env.npm_package_version ?? '0.1.0')
      .addBearerAuth()
      .build(),
  );
  SwaggerModule.setup('api/docs', app, document, { jsonDocumentUrl: 'api/docs-json' });
  await app.listen(config.port, config.host);
  logger.log({ msg: 'mxwatch listening', url: await app.getUrl(), database: config.databaseUrl ? 'postgres' : 'pglite' }, 'Bootstrap');
}

bootstrap().catch((e: unknown) => {
  process.stderr.write(`mxwatch: failed to start: ${e instanceof Error ? (e.stack ?? e.message) : String(e)}\n`);
  process.exit(1);
});
