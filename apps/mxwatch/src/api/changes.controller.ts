import { Controller, Get, Param, Query } from '@nestjs/common';
import { ApiBadRequestResponse, ApiNotFoundResponse, ApiOkResponse, ApiOperation, ApiProperty, ApiPropertyOptional, ApiTags } from '@nestjs/swagger';
import { Type } from 'class-transformer';
import { IsOptional, IsString } from 'class-validator';
import { IsQueryWholeNumber } from './domain-validators.js';
import { ErrorDto } from './responses.dto.js';
import { PolicyChangesService } from '../runtime/policy-changes.service.js';

export class ChangesQueryDto {
  @ApiPropertyOptional({ minimum: 1, maximum: 500, default: 50 })
  @IsOptional()
  @Type(() => Number)
  @IsQueryWholeNumber(1, 500)
  limit?: number;

  @ApiPropertyOptional({ description: 'nextCursor of the previous page' })
  @IsOptional()
  @IsString()
  cursor?: string;
}

export class PolicyChangeDto {
  @ApiProperty() id!: string;
  @ApiProperty({ example: 'dmarc' }) probe!: string;
  @ApiProperty({ example: 'dmarc.policy_lowered' }) kind!: string;
  @ApiProperty({ description: 'lowers protection: notified as a warning' }) weakening!: boolean;
  @ApiProperty({ enum: ['warning', 'info'] }) severity!: string;
  @ApiProperty({ example: 'DMARC policy reject → none' }) text!: string;
  @ApiProperty({ format: 'date-time' }) observedAt!: string;
}

export class ChangesPageDto {
  @ApiProperty({ type: [PolicyChangeDto] }) items!: PolicyChangeDto[];
  @ApiProperty({ type: String, nullable: true }) nextCursor!: string | null;
}

@ApiTags('changes')
@ApiBadRequestResponse({ type: ErrorDto, description: 'invalid input; every problem is listed in message' })
@Controller()
export class ChangesController {
  constructor(private readonly changes: PolicyChangesService) {}

  @Get('domains/:name/changes')
  @ApiOperation({ summary: 'Changes of the published policy (MX set, SPF, DMARC, DKIM keys, BIMI) between conclusive runs, newest first, cursor-paginated' })
  @ApiOkResponse({ type: ChangesPageDto })
  @ApiNotFoundResponse({ type: ErrorDto })
  list(@Param('name') name: string, @Query() q: ChangesQueryDto) {
    return this.changes.list(name, q);
  }
}
