import { Module } from '@nestjs/common';
import { ScheduleModule } from '@nestjs/schedule';
import { ChecksModule } from './checks.module.js';
import { SchedulerService } from './scheduler.service.js';
import { ScheduleRepository } from '../storage/schedule.repository.js';

/** Absent from the app when MXWATCH_SCHEDULER=false (API-only replicas). */
@Module({ imports: [ScheduleModule.forRoot(), ChecksModule], providers: [SchedulerService, ScheduleRepository], exports: [SchedulerService] })
export class SchedulerModule {}
