import { Global, Module } from '@nestjs/common';
import { DomainsRepository } from '../storage/domains.repository.js';
import { DomainEvents } from './domain-events.js';
import { DomainsService } from './domains.service.js';

@Global()
@Module({
  providers: [DomainsRepository, DomainsService, DomainEvents],
  exports: [DomainsService, DomainsRepository, DomainEvents],
})
export class DomainsModule {}
