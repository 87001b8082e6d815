import { Controller, Get, HttpCode, Param, Post, Query } from '@nestjs/common';
import { ApiBadRequestResponse, ApiBearerAuth, ApiExtraModels, ApiNotFoundResponse, ApiOkResponse, ApiOperation, ApiTags } from '@nestjs/swagger';
import { CheckRunDto, DomainStatusDto, ErrorDto, FindingDto, HistoryPageDto, ProbeStatusDto } from './responses.dto.js';
import { FindingsQueryDto, HistoryQueryDto } from './checks.dto.js';
import { ChecksService } from '../runtime/checks.service.js';

@ApiTags('checks')
// DomainStatusDto.probes names it by $ref only (a map by probe name), which registers nothing.
@ApiExtraModels(ProbeStatusDto)
@ApiBadRequestResponse({ type: ErrorDto, description: 'invalid input; every problem is listed in message' })
@Controller()
export class ChecksController {
  constructor(private readonly checks: ChecksService) {}

  @Post('domains/:name/check')
  @HttpCode(200)
  @ApiBearerAuth()
  @ApiOperation({ summary: 'Run every probe now; returns the stored run and its findings' })
  @ApiOkResponse({ type: CheckRunDto })
  @ApiNotFoundResponse({ type: ErrorDto })
  check(@Param('name') name: string) {
    return this.checks.checkNow(name);
  }

  @Get('domains/:name/status')
  @ApiOperation({ summary: 'Latest result per probe and the open findings' })
  @ApiOkResponse({ type: DomainStatusDto })
  @ApiNotFoundResponse({ type: ErrorDto })
  status(@Param('name') name: string) {
    return this.checks.status(name);
  }

  @Get('domains/:name/checks')
  @ApiOperation({ summary: 'Probe result history, newest first, cursor-paginated' })
  @ApiOkResponse({ type: HistoryPageDto })
  @ApiNotFoundResponse({ type: ErrorDto })
  history(@Param('name') name: string, @Query() q: HistoryQueryDto) {
    return this.checks.history(name, q);
  }

  @Get('findings')
  @ApiOperation({ summary: 'Findings across domains, and the findings about mxwatch itself (scope monitor, domain null)' })
  @ApiOkResponse({ type: [FindingDto] })
  findings(@Query() q: FindingsQueryDto) {
    return this.checks.listFindings({ status: q.status, domain: q.domain, scope: q.scope, severity: q.severity, code: q.code, limit: q.limit, labels: q.labels() });
  }
}
