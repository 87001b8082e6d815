import { type DynamicModule, Global, Module } from '@nestjs/common';
import { AppLogger } from './app-logger.js';

@Global()
@Module({})
export class CommonModule {
  static forRoot(logger: AppLogger): DynamicModule {
    logger.captureProcessWarnings();
    return { module: CommonModule, providers: [{ provide: AppLogger, useValue: logger }], exports: [AppLogger] };
  }
}
