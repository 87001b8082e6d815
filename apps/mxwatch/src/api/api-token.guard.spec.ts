import 'reflect-metadata';
import { Controller, Delete, Get, type INestApplication, Module, Post, RequestMethod } from '@nestjs/common';
import { APP_GUARD, NestFactory } from '@nestjs/core';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { APP_CONFIG } from '../config/config.module.js';
import type { AppConfig } from '../config/config.types.js';
import { ApiTokenGuard } from './api-token.guard.js';

const WRITE = 'write-token-0123456789';
const READ = 'read-token-0123456789';

@Controller('domains')
class DomainsStub {
  @Get()
  list() {
    return [];
  }
  @Get(':name')
  one() {
    return {};
  }
  @Post()
  create() {
    return {};
  }
  @Delete(':name')
  remove() {
    return {};
  }
}

@Controller('health')
class HealthStub {
  @Get('live')
  live() {
    return { status: 'ok' };
  }
}

@Controller('metrics')
class MetricsStub {
  @Get()
  scrape() {
    return 'mxwatch_up 1';
  }
}

/** The guard wired as app.module.ts and main.ts wire it: global guard, `api/v1` prefix, open health and metrics. */
async function startApp(config: Pick<AppConfig, 'apiToken' | 'readToken'>): Promise<{ app: INestApplication; base: string }> {
  @Module({
    controllers: [DomainsStub, HealthStub, MetricsStub],
    providers: [{ provide: APP_CONFIG, useValue: config }, { provide: APP_GUARD, useClass: ApiTokenGuard }],
  })
  class TestModule {}
  const app = await NestFactory.create(TestModule, { logger: false });
  app.setGlobalPrefix('api/v1', {
    exclude: [
      { path: 'health/live', method: RequestMethod.GET },
      { path: 'metrics', method: RequestMethod.GET },
    ],
  });
  await app.listen(0, '127.0.0.1');
  const { port } = app.getHttpServer().address() as AddressInfo;
  return { app, base: `http://127.0.0.1:${port}` };
}

async function status(base: string, method: string, path: string, token?: string): Promise<number> {
  const r = await fetch(`${base}${path}`, { method, headers: token ? { authorization: `Bearer ${token}` } : {} });
  await r.arrayBuffer();
  return r.status;
}

describe(ApiTokenGuard.name, () => {
  describe('with an API token and a read token', () => {
    let app: INestApplication;
    let base: string;
    beforeAll(async () => ({ app, base } = await startApp({ apiToken: WRITE, readToken: READ })));
    afterAll(async () => app.close());

    it.each<[string, string, string | undefined, number]>([
      ['GET', '/api/v1/domains', undefined, 401],
      ['GET', '/api/v1/domains', 'wrong-token-0123456789', 401],
      ['GET', '/api/v1/domains', READ, 200],
      ['GET', '/api/v1/domains', WRITE, 200],
      ['GET', '/api/v1/domains/example.com', undefined, 401],
      ['GET', '/api/v1/domains/example.com', READ, 200],
      ['HEAD', '/api/v1/domains', undefined, 401],
      // Express matches routes case-insensitively: the spelling of the URL must not open a door.
      ['GET', '/API/V1/domains', undefined, 401],
      // No route matches, so nothing is served either way.
      ['GET', '/api/v1//domains', undefined, 404],
      ['GET', '/api/v1/domains?x=/health/live', undefined, 401],
      ['POST', '/api/v1/domains', undefined, 401],
      ['POST', '/api/v1/domains', READ, 403],
      ['POST', '/api/v1/domains', WRITE, 201],
      ['DELETE', '/api/v1/domains/example.com', READ, 403],
      ['DELETE', '/api/v1/domains/example.com', WRITE, 200],
      ['GET', '/health/live', undefined, 200],
      ['GET', '/metrics', undefined, 200],
    ])('should answer %s %s with token %s: %i', async (method, path, token, expected) => {
      expect(await status(base, method, path, token)).toBe(expected);
    });
  });

  describe('with an API token only', () => {
    let app: INestApplication;
    let base: string;
    beforeAll(async () => ({ app, base } = await startApp({ apiToken: WRITE, readToken: undefined })));
    afterAll(async () => app.close());

    it.each<[string, string, string | undefined, number]>([
      ['GET', '/api/v1/domains', undefined, 200],
      ['POST', '/api/v1/domains', undefined, 401],
      ['POST', '/api/v1/domains', 'wrong-token-0123456789', 401],
      ['POST', '/api/v1/domains', WRITE, 201],
    ])('should answer %s %s with token %s: %i', async (method, path, token, expected) => {
      expect(await status(base, method, path, token)).toBe(expected);
    });
  });

  describe('without tokens (loopback, or MXWATCH_INSECURE_NO_TOKEN)', () => {
    let app: INestApplication;
    let base: string;
    beforeAll(async () => ({ app, base } = await startApp({ apiToken: undefined, readToken: undefined })));
    afterAll(async () => app.close());

    it('should let reads and changes through', async () => {
      expect(await status(base, 'GET', '/api/v1/domains')).toBe(200);
      expect(await status(base, 'POST', '/api/v1/domains')).toBe(201);
    });
  });
});
