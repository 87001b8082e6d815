import { type DynamicModule, Global, Module } from '@nestjs/common';
import type { AppConfig } from './config.types.js';

/** Injection token of the validated AppConfig. */
export const APP_CONFIG = Symbol('APP_CONFIG');

/** Config is loaded and validated once in main.ts, before Nest starts, so a bad value never half-boots the app. */
@Global()
@Module({})
export class ConfigModule {
  static forRoot(config: AppConfig): DynamicModule {
    return { module: ConfigModule, providers: [{ provide: APP_CONFIG, useValue: config }], exports: [APP_CONFIG] };
  }
}
