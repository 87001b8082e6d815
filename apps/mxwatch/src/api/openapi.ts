import type { INestApplication } from '@nestjs/common';
import { ApiOkResponse, ApiOperation, ApiProduces, ApiServiceUnavailableResponse, ApiTags, DocumentBuilder, SwaggerModule } from '@nestjs/swagger';
import { MetricsController } from '../metrics/metrics.controller.js';
import { HealthController } from './health.controller.js';
import { HealthDto, NotReadyDto, ReadinessDto } from './responses.dto.js';

/**
 * The OpenAPI document (/api/docs, /api/docs-json), set up only by a process with the full HTTP
 * surface (runtime/roles.ts). The routes every role serves (health, metrics) are described here
 * rather than with decorators on their controllers: a worker then never loads @nestjs/swagger,
 * class-validator and their ~900 modules (17 MB of RSS per worker).
 */
let operationalRoutesDescribed = false;

function method(target: { prototype: object }, name: string): [object, string, PropertyDescriptor] {
  return [target.prototype, name, Object.getOwnPropertyDescriptor(target.prototype, name)!];
}

/** Describes health and metrics as their decorators would have (once per process). */
export function describeOperationalRoutes(): void {
  if (operationalRoutesDescribed) return;
  operationalRoutesDescribed = true;
  ApiTags('health')(HealthController);
  ApiOkResponse({ type: HealthDto, description: 'the process is up' })(...method(HealthController, 'live'));
  ApiOkResponse({ type: ReadinessDto, description: 'the database answers' })(...method(HealthController, 'ready'));
  ApiServiceUnavailableResponse({ type: NotReadyDto, description: 'the database does not answer' })(...method(HealthController, 'ready'));
  ApiTags('metrics')(MetricsController);
  ApiOperation({ summary: 'Prometheus metrics (text exposition format); outside /api/v1' })(...method(MetricsController, 'scrape'));
  ApiProduces('text/plain; version=0.0.4; charset=utf-8')(...method(MetricsController, 'scrape'));
  ApiOkResponse({ description: 'every mxwatch_ series', schema: { type: 'string', example: 'mxwatch_domains 3' } })(...method(MetricsController, 'scrape'));
}

/** Builds the document from the application's routes and serves it. */
export function setupOpenApi(app: INestApplication, version: string): void {
  describeOperationalRoutes();
  const document = SwaggerModule.createDocument(
    app,
    new DocumentBuilder().setTitle('mxwatch').setDescription('Email deliverability and DNS health monitor').setVersion(version).addBearerAuth().build(),
  );
  SwaggerModule.setup('api/docs', app, document, { jsonDocumentUrl: 'api/docs-json' });
}
