import { ApiPropertyOptional } from '@nestjs/swagger';
import { Type } from 'class-transformer';
import { IsIn, IsISO8601, IsOptional, IsString } from 'class-validator';
import { IsLabelSelectors, IsQueryWholeNumber, parseLabelSelectors } from './domain-validators.js';
import { PROBE_STATUSES } from '../probes/probe.types.js';
import { PROBE_NAMES } from '../probes/registry.js';
import { FINDING_SCOPES, SEVERITIES } from '../findings/finding-catalog.js';

export class HistoryQueryDto {
  @ApiPropertyOptional({ enum: PROBE_NAMES })
  @IsOptional()
  @IsIn(PROBE_NAMES, { message: `probe must be one of ${PROBE_NAMES.join(', ')}` })
  probe?: string;

  @ApiPropertyOptional({ enum: PROBE_STATUSES })
  @IsOptional()
  @IsIn(PROBE_STATUSES, { message: `status must be one of ${PROBE_STATUSES.join(', ')}` })
  status?: string;

  @ApiPropertyOptional({ type: String, format: 'date-time', description: 'results started at or after' })
  @IsOptional()
  @IsISO8601({ strict: true, strictSeparator: true }, { message: 'since must be an ISO 8601 date-time such as 2026-01-31T12:00:00Z' })
  since?: string;

  @ApiPropertyOptional({ type: String, format: 'date-time', description: 'results started before' })
  @IsOptional()
  @IsISO8601({ strict: true, strictSeparator: true }, { message: 'until must be an ISO 8601 date-time such as 2026-01-31T12:00:00Z' })
  until?: string;

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

export class FindingsQueryDto {
  @ApiPropertyOptional({ enum: ['open', 'resolved', 'pending'], description: 'default open and resolved; pending: seen, not yet MXWATCH_ALERT_AFTER runs in a row' })
  @IsOptional()
  @IsIn(['open', 'resolved', 'pending'], { message: 'status must be open, resolved or pending' })
  status?: 'open' | 'resolved' | 'pending';

  @ApiPropertyOptional()
  @IsOptional()
  @IsString()
  domain?: string;

  @ApiPropertyOptional({ enum: FINDING_SCOPES, description: 'monitor: only findings about mxwatch itself (domain null); domain: only the domains\' findings; default both' })
  @IsOptional()
  @IsIn(FINDING_SCOPES, { message: `scope must be one of ${FINDING_SCOPES.join(', ')}` })
  scope?: 'domain' | 'monitor';

  @ApiPropertyOptional({ enum: SEVERITIES })
  @IsOptional()
  @IsIn(SEVERITIES, { message: `severity must be one of ${SEVERITIES.join(', ')}` })
  severity?: string;

  @ApiPropertyOptional({ example: 'STARTTLS_NOT_OFFERED' })
  @IsOptional()
  @IsString()
  code?: string;

  @ApiPropertyOptional({ type: [String], example: ['team=mail'], description: "the domain's labels, name=value; repeat for several, all must match" })
  @IsOptional()
  @IsLabelSelectors()
  label?: string | string[];

  @ApiPropertyOptional({ minimum: 1, maximum: 1000, default: 200 })
  @IsOptional()
  @Type(() => Number)
  @IsQueryWholeNumber(1, 1000)
  limit?: number;

  /** The label pairs asked for (validated by the pipe first). */
  labels(): Record<string, string> {
    const r = parseLabelSelectors(this.label);
    return r.ok ? r.labels : {};
  }
}
