import { Controller, Get, HttpCode, Param, Post, Query } from '@nestjs/common';
import { ApiBearerAuth, ApiNotFoundResponse, ApiOkResponse, ApiOperation, ApiTags } from '@nestjs/swagger';
import { FindingsQueryDto, HistoryQueryDto } from './checks.dto.js';
import { ChecksService } from '../runtime/checks.service.js';

@ApiTags('checks')
@Controller()
export class ChecksController {
  constructor(private readonly checks: ChecksService) {}

  @Post('domains/:name/check')
  @HttpCode(200)
  @ApiBearerAuth()
  @ApiOperation({ summary: 'Run every probe now; returns the stored run and its findings' })
  @ApiNotFoundResponse()
  check(@Param('name') name: string) {
    return this.checks.checkNow(name);
  }

  @Get('domains/:name/status')
  @ApiOperation({ summary: 'Latest result per probe and the open findings' })
  @ApiNotFoundResponse()
  status(@Param('name') name: string) {
    return this.checks.status(name);
  }

  @Get('domains/:name/checks')
  @ApiOperation({ summary: 'Probe result history, newest first, cursor-paginated' })
  @ApiOkResponse({ description: '{ items, nextCursor }' })
  history(@Param('name') name: string, @Query() q: HistoryQueryDto) {
    return this.checks.history(name, q);
  }

  @Get('findings')
  @ApiOperation({ summary: 'Findings across domains' })
  findings(@Query() q: FindingsQueryDto) {
    return this.checks.listFindings(q);
  }
}
