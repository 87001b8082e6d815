import { Global, Module } from '@nestjs/common';
import { DomainsRepository } from '../storage/domains.repository.js';
import { EventBus } from './events.js';
import { DomainsService } from './domains.service.js';

@Global()
@Module({
  providers: [DomainsRepository, DomainsService, EventBus],
  exports: [DomainsService, DomainsRepository, EventBus],
})
export class DomainsModule {}
