import { Body, Controller, Delete, Get, HttpCode, Param, Patch, Post, Query } from '@nestjs/common';
import { ApiBadRequestResponse, ApiBearerAuth, ApiConflictResponse, ApiCreatedResponse, ApiNoContentResponse, ApiNotFoundResponse, ApiOkResponse, ApiTags } from '@nestjs/swagger';
import { AppLogger } from '../common/app-logger.js';
import { CreateDomainDto, DomainDto, DomainsQueryDto, UpdateDomainDto } from './domain.dto.js';
import { ErrorDto } from './responses.dto.js';
import { DomainsService } from '../runtime/domains.service.js';
import { normaliseDomainName } from '../transport/dns/dns-names.js';

@ApiTags('domains')
@ApiBearerAuth()
@ApiBadRequestResponse({ type: ErrorDto, description: 'invalid input; every problem is listed in message' })
@Controller('domains')
export class DomainsController {
  constructor(
    private readonly domains: DomainsService,
    private readonly logger: AppLogger,
  ) {}

  @Post()
  @ApiCreatedResponse({ type: DomainDto })
  @ApiConflictResponse({ type: ErrorDto, description: 'the domain is already monitored' })
  async create(@Body() dto: CreateDomainDto): Promise<DomainDto> {
    const created = await this.domains.create(dto);
    this.changed('created', created.name, Object.keys(dto));
    return created;
  }

  @Get()
  @ApiOkResponse({ type: [DomainDto] })
  list(@Query() q: DomainsQueryDto): Promise<DomainDto[]> {
    return this.domains.list(q.labels());
  }

  @Get(':name')
  @ApiOkResponse({ type: DomainDto })
  @ApiNotFoundResponse({ type: ErrorDto })
  get(@Param('name') name: string): Promise<DomainDto> {
    return this.domains.get(name);
  }

  @Patch(':name')
  @ApiOkResponse({ type: DomainDto })
  @ApiNotFoundResponse({ type: ErrorDto })
  async update(@Param('name') name: string, @Body() dto: UpdateDomainDto): Promise<DomainDto> {
    const updated = await this.domains.update(name, dto);
    this.changed('updated', updated.name, Object.keys(dto));
    return updated;
  }

  @Delete(':name')
  @HttpCode(204)
  @ApiNoContentResponse({ description: 'deleted, with its history' })
  @ApiNotFoundResponse({ type: ErrorDto })
  async delete(@Param('name') name: string): Promise<void> {
    await this.domains.delete(name);
    const normal = normaliseDomainName(name);
    this.changed('deleted', normal.ok ? normal.name : name, []);
  }

  /** An audit line per change of the monitored set: which fields, never their values (labels may name customers). */
  private changed(action: 'created' | 'updated' | 'deleted', domain: string, fields: string[]): void {
    this.logger.log({ msg: `domain ${action}`, domain, ...(fields.length ? { fields } : {}), via: 'api' }, 'Domains');
  }
}
