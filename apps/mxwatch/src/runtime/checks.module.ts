import { Module } from '@nestjs/common';
import { ChecksRepository } from '../storage/checks.repository.js';
import { FindingsRepository } from '../storage/findings.repository.js';
import { ProbeMemoryRepository } from '../storage/probe-memory.repository.js';
import { CheckRunner } from './check-runner.service.js';
import { ChecksService } from './checks.service.js';
import { FindingsService } from './findings.service.js';
import { ProbeRuntime } from './probe-runtime.service.js';
import { ChangesRepository } from '../storage/changes.repository.js';
import { PolicyChangesService } from './policy-changes.service.js';

@Module({
  providers: [ProbeRuntime, ProbeMemoryRepository, ChecksRepository, FindingsRepository, FindingsService, CheckRunner, ChecksService, ChangesRepository, PolicyChangesService],
  exports: [CheckRunner, ProbeMemoryRepository, ChecksRepository, FindingsRepository, FindingsService, ProbeRuntime, ChecksService, PolicyChangesService],
})
export class ChecksModule {}
