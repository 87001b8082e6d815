import { Module } from '@nestjs/common';
import { FindingsRepository } from '../findings/findings.repository.js';
import { FindingsService } from '../findings/findings.service.js';
import { CheckRunner } from './check-runner.service.js';
import { ChecksController } from './checks.controller.js';
import { ChecksRepository } from './checks.repository.js';
import { ChecksService } from './checks.service.js';
import { ProbeRuntime } from './probe-runtime.service.js';

@Module({
  controllers: [ChecksController],
  providers: [ProbeRuntime, ChecksRepository, FindingsRepository, FindingsService, CheckRunner, ChecksService],
  exports: [CheckRunner, ChecksRepository, FindingsRepository, FindingsService, ProbeRuntime],
})
export class ChecksModule {}
