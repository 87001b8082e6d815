import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { DomainDto } from './domain.dto.js';

/**
 * Response shapes for OpenAPI: every route declares what it answers, so a generated client is
 * typed end to end. These classes describe; the services build the plain objects.
 */
const JSON_OBJECT = { type: 'object', additionalProperties: true } as const;

export class ProbeResultDto {
  @ApiProperty({ description: 'result id (a 64-bit integer as a string)' }) id!: string;
  @ApiProperty({ format: 'uuid' }) runId!: string;
  @ApiProperty({ example: 'smtp' }) probe!: string;
  @ApiProperty({ example: 'mx1.example.com[192.0.2.1]:25' }) target!: string;
  @ApiProperty({ enum: ['pass', 'warn', 'fail', 'untestable'] }) status!: string;
  @ApiProperty({ nullable: true, type: String }) reason!: string | null;
  @ApiProperty({ format: 'date-time' }) startedAt!: string;
  @ApiProperty() durationMs!: number;
  @ApiProperty({ ...JSON_OBJECT, description: "the probe's facts, and its observations" }) details!: Record<string, unknown>;
}

export class FindingDto {
  @ApiProperty({ format: 'uuid' }) id!: string;
  @ApiPropertyOptional({ type: String, nullable: true, example: 'example.com', description: 'in lists across domains (GET /findings): the domain, or null for a finding about mxwatch itself' }) domain?: string | null;
  @ApiProperty({ enum: ['domain', 'monitor'], description: 'monitor: about mxwatch itself (its resolver, its path to the DNSBLs), kept once for every domain' }) scope!: string;
  @ApiProperty({ example: 'STARTTLS_NOT_OFFERED' }) code!: string;
  @ApiProperty({ enum: ['critical', 'warning', 'info'] }) severity!: string;
  @ApiProperty() probe!: string;
  @ApiProperty() target!: string;
  @ApiProperty() message!: string;
  @ApiProperty() remediation!: string;
  @ApiProperty(JSON_OBJECT) evidence!: Record<string, unknown>;
  @ApiProperty({ enum: ['pending', 'open', 'resolved'] }) status!: string;
  @ApiProperty({ format: 'date-time' }) firstSeenAt!: string;
  @ApiProperty({ format: 'date-time' }) lastSeenAt!: string;
  @ApiProperty({ nullable: true, type: String, format: 'date-time' }) openedAt!: string | null;
  @ApiProperty({ nullable: true, type: String, format: 'date-time' }) resolvedAt!: string | null;
}

export class ObservedFindingDto {
  @ApiProperty() code!: string;
  @ApiProperty({ enum: ['domain', 'monitor'], description: 'monitor: about mxwatch itself, kept once (GET /findings?scope=monitor), not as a finding of this domain' }) scope!: string;
  @ApiProperty({ enum: ['critical', 'warning', 'info'] }) severity!: string;
  @ApiProperty() probe!: string;
  @ApiProperty() target!: string;
  @ApiProperty() message!: string;
  @ApiProperty() remediation!: string;
  @ApiProperty(JSON_OBJECT) evidence!: Record<string, unknown>;
}

export class PendingFindingDto extends FindingDto {
  @ApiProperty({ description: 'consecutive runs that showed it' }) seenRuns!: number;
  @ApiProperty({ description: 'MXWATCH_ALERT_AFTER' }) alertAfter!: number;
  @ApiProperty({ description: 'checks still needed to open it (and notify)' }) runsUntilOpen!: number;
}

export class RunFindingsDto {
  @ApiProperty({ type: [ObservedFindingDto], description: 'what this run showed, whether or not it has opened yet (MXWATCH_ALERT_AFTER)' }) observed!: ObservedFindingDto[];
  @ApiProperty({ type: [FindingDto] }) opened!: FindingDto[];
  @ApiProperty({ type: [FindingDto] }) resolved!: FindingDto[];
  @ApiProperty({ type: [FindingDto] }) open!: FindingDto[];
  @ApiProperty({ type: [PendingFindingDto], description: 'seen, not yet MXWATCH_ALERT_AFTER runs in a row: not open, not notified' }) pending!: PendingFindingDto[];
  @ApiProperty({ type: String, nullable: true, description: 'what is pending and why, in one sentence' }) note!: string | null;
}

export class CheckRunDto {
  @ApiProperty({ format: 'uuid' }) id!: string;
  @ApiProperty() domain!: string;
  @ApiProperty({ enum: ['manual', 'schedule'] }) trigger!: string;
  @ApiProperty({ enum: ['pass', 'warn', 'fail', 'untestable'] }) status!: string;
  @ApiProperty({ format: 'date-time' }) startedAt!: string;
  @ApiProperty({ format: 'date-time' }) finishedAt!: string;
  @ApiProperty() durationMs!: number;
  @ApiProperty({ type: [ProbeResultDto] }) results!: ProbeResultDto[];
  @ApiProperty({ type: [String], description: 'what was probed but stored as one line instead of a result (a port that is closed and not required), e.g. `smtp mx1.example.net[192.0.2.1]:587 port_closed_not_required`' }) facts!: string[];
  @ApiProperty({ type: RunFindingsDto }) findings!: RunFindingsDto;
}

export class RunSummaryDto {
  @ApiProperty({ format: 'uuid' }) id!: string;
  @ApiProperty({ enum: ['manual', 'schedule'] }) trigger!: string;
  @ApiProperty({ enum: ['pass', 'warn', 'fail', 'untestable'] }) status!: string;
  @ApiProperty({ format: 'date-time' }) startedAt!: string;
  @ApiProperty({ format: 'date-time' }) finishedAt!: string;
  @ApiProperty() durationMs!: number;
  @ApiProperty({ type: [String], description: 'what was probed but stored as one line instead of a result (a port that is closed and not required), e.g. `smtp mx1.example.net[192.0.2.1]:587 port_closed_not_required`' }) facts!: string[];
}

export class ProbeStatusDto {
  @ApiProperty({ nullable: true, enum: ['pass', 'warn', 'fail', 'untestable'], description: 'worst result of the probe in the last run; null when it did not run' }) status!: string | null;
  @ApiProperty({ type: [ProbeResultDto] }) results!: ProbeResultDto[];
}

export class DomainStatusDto {
  @ApiProperty({ type: DomainDto }) domain!: DomainDto;
  @ApiProperty({ type: RunSummaryDto, nullable: true }) lastRun!: RunSummaryDto | null;
  @ApiProperty({ type: 'object', additionalProperties: { $ref: '#/components/schemas/ProbeStatusDto' }, description: 'by probe name' }) probes!: Record<string, ProbeStatusDto>;
  @ApiProperty({ type: [FindingDto] }) openFindings!: FindingDto[];
  @ApiProperty({ type: [PendingFindingDto] }) pendingFindings!: PendingFindingDto[];
}

export class HistoryPageDto {
  @ApiProperty({ type: [ProbeResultDto] }) items!: ProbeResultDto[];
  @ApiProperty({ nullable: true, type: String, description: 'pass as cursor for the next page; null on the last page' }) nextCursor!: string | null;
}

export class NotificationAttemptDto {
  @ApiPropertyOptional() n?: number;
  @ApiPropertyOptional({ format: 'date-time' }) startedAt?: string;
  @ApiPropertyOptional() durationMs?: number;
  @ApiPropertyOptional() ok?: boolean;
  @ApiPropertyOptional({ description: "the receiver's HTTP status" }) status?: number;
  @ApiPropertyOptional() retryable?: boolean;
  @ApiPropertyOptional() nextDelayMs?: number;
  @ApiPropertyOptional({ description: 'a short, redacted reason' }) error?: string;
  @ApiPropertyOptional({ enum: ['rejected', 'timeout', 'network', 'aborted', 'unexpected'] }) code?: string;
}

export class NotificationDto {
  @ApiProperty({ format: 'uuid' }) id!: string;
  @ApiProperty({ nullable: true, type: String }) findingId!: string | null;
  @ApiProperty() channel!: string;
  @ApiProperty({ enum: ['opened', 'resolved', 'test', 'change'] }) event!: string;
  @ApiProperty({ enum: ['pending', 'sent', 'failed'] }) status!: string;
  @ApiProperty() attempts!: number;
  @ApiProperty({ nullable: true, type: String, description: 'a short, redacted reason' }) lastError!: string | null;
  @ApiProperty({ type: [NotificationAttemptDto] }) attemptLog!: NotificationAttemptDto[];
  @ApiProperty({ format: 'date-time' }) createdAt!: string;
  @ApiProperty({ nullable: true, type: String, format: 'date-time' }) sentAt!: string | null;
  @ApiProperty({ nullable: true, type: String, format: 'date-time' }) nextAttemptAt!: string | null;
  @ApiProperty({ nullable: true, type: String, format: 'date-time' }) retryUntil!: string | null;
  @ApiProperty(JSON_OBJECT) payload!: Record<string, unknown>;
}

export class HealthDto {
  @ApiProperty({ enum: ['ok'] }) status!: string;
}

export class ReadinessDto {
  @ApiProperty({ enum: ['ok'] }) status!: string;
  @ApiProperty({ enum: ['postgres', 'pglite'] }) database!: string;
  @ApiPropertyOptional({ enum: ['ok', 'unavailable'], description: 'with MXWATCH_REDIS_URL' }) redis?: string;
  @ApiPropertyOptional({ type: [String], example: ['redis'], description: 'what does not answer (an api replica stays ready without Redis; it only loses manual checks)' }) missing?: string[];
}

export class NotReadyDto {
  @ApiProperty({ example: 503 }) statusCode!: number;
  @ApiProperty({ enum: ['unavailable'] }) status!: string;
  @ApiProperty({ enum: ['postgres', 'pglite'] }) database!: string;
  @ApiProperty({ example: 'the database does not answer', description: 'a short reason; details are in the log' }) reason!: string;
  @ApiPropertyOptional({ enum: ['ok', 'unavailable'], description: 'with MXWATCH_REDIS_URL' }) redis?: string;
  @ApiPropertyOptional({ type: [String], example: ['database', 'redis'] }) missing?: string[];
}

export class ErrorDto {
  @ApiProperty({ example: 400 }) statusCode!: number;
  @ApiProperty({ oneOf: [{ type: 'string' }, { type: 'array', items: { type: 'string' } }] }) message!: string | string[];
  @ApiProperty({ example: 'Bad Request' }) error!: string;
}
