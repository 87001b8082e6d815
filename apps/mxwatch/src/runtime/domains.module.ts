import { Global, Module } from '@nestjs/common';
import { DomainsRepository } from '../storage/domains.repository.js';
import { EventBus } from './events.js';
import { DomainsService } from './domains.service.js';
import { DatabaseOutage } from './run-buffer.js';

@Global()
@Module({
  providers: [DomainsRepository, DomainsService, EventBus, DatabaseOutage],
  exports: [DomainsService, DomainsRepository, EventBus, DatabaseOutage],
})
export class DomainsModule {}
