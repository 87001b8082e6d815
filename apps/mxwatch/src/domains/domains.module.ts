import { Global, Module } from '@nestjs/common';
import { DomainEvents } from './domain-events.js';
import { DomainsController } from './domains.controller.js';
import { DomainsRepository } from './domains.repository.js';
import { DomainsService } from './domains.service.js';

@Global()
@Module({
  controllers: [DomainsController],
  providers: [DomainsRepository, DomainsService, DomainEvents],
  exports: [DomainsService, DomainsRepository, DomainEvents],
})
export class DomainsModule {}
