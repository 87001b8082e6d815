import { Body, Controller, Delete, Get, HttpCode, Param, Patch, Post } from '@nestjs/common';
import { ApiBearerAuth, ApiConflictResponse, ApiCreatedResponse, ApiNotFoundResponse, ApiOkResponse, ApiTags } from '@nestjs/swagger';
import { CreateDomainDto, DomainDto, UpdateDomainDto } from './domain.dto.js';
import { DomainsService } from '../runtime/domains.service.js';

@ApiTags('domains')
@ApiBearerAuth()
@Controller('domains')
export class DomainsController {
  constructor(private readonly domains: DomainsService) {}

  @Post()
  @ApiCreatedResponse({ type: DomainDto })
  @ApiConflictResponse({ description: 'the domain is already monitored' })
  create(@Body() dto: CreateDomainDto): Promise<DomainDto> {
    return this.domains.create(dto);
  }

  @Get()
  @ApiOkResponse({ type: [DomainDto] })
  list(): Promise<DomainDto[]> {
    return this.domains.list();
  }

  @Get(':name')
  @ApiOkResponse({ type: DomainDto })
  @ApiNotFoundResponse()
  get(@Param('name') name: string): Promise<DomainDto> {
    return this.domains.get(name);
  }

  @Patch(':name')
  @ApiOkResponse({ type: DomainDto })
  @ApiNotFoundResponse()
  update(@Param('name') name: string, @Body() dto: UpdateDomainDto): Promise<DomainDto> {
    return this.domains.update(name, dto);
  }

  @Delete(':name')
  @HttpCode(204)
  @ApiNotFoundResponse()
  delete(@Param('name') name: string): Promise<void> {
    return this.domains.delete(name);
  }
}
