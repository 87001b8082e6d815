import { ApiProperty, ApiPropertyOptional, PartialType, OmitType } from '@nestjs/swagger';
import {
  ArrayMaxSize,
  ArrayUnique,
  IsArray,
  IsBoolean,
  IsDefined,
  IsOptional,
  Matches,
} from 'class-validator';
import type { DomainSpec } from '../config/config.types.js';
import { normaliseDomainName } from '../transport/dns/dns-names.js';
import { IsDomainName, IsIpAddress, IsLabelMap, IsLabelSelectors, IsWholeNumberInRange, parseLabelSelectors } from './domain-validators.js';

export const MIN_INTERVAL_SECONDS = 30;
export const MAX_INTERVAL_SECONDS = 7 * 24 * 3600;

function normalise(name: string): string {
  const r = normaliseDomainName(name);
  if (!r.ok) throw new Error(`bug: unvalidated domain name ${name}`);
  return r.name;
}

/** A domain as submitted over REST (POST) or declared in the YAML file. */
export class DomainInputDto {
  @ApiProperty({ example: 'example.com', description: 'Domain name; stored lower case, without trailing dot, IDN as punycode' })
  @IsDefined({ message: 'name is required' })
  @IsDomainName()
  name!: string;

  @ApiPropertyOptional({ minimum: MIN_INTERVAL_SECONDS, maximum: MAX_INTERVAL_SECONDS, nullable: true, description: 'Seconds between checks; null uses MXWATCH_CHECK_INTERVAL' })
  @IsOptional()
  @IsWholeNumberInRange(MIN_INTERVAL_SECONDS, MAX_INTERVAL_SECONDS, { what: 'a whole number of seconds', maxNote: ' (a week)' })
  intervalSeconds?: number | null;

  @ApiPropertyOptional({ type: [String], example: ['smtp.example.com'], description: 'Hosts where users submit mail (ports 587/465)' })
  @IsOptional()
  @IsArray({ message: 'submissionHosts must be a list of host names' })
  @ArrayMaxSize(20)
  @ArrayUnique()
  @IsDomainName({ each: true })
  submissionHosts?: string[];

  @ApiPropertyOptional({ type: [String], example: ['192.0.2.10'], description: 'Outbound IPs to check against DNS blacklists' })
  @IsOptional()
  @IsArray({ message: 'sendingIps must be a list of IP addresses' })
  @ArrayMaxSize(256)
  @ArrayUnique()
  @IsIpAddress({ each: true })
  sendingIps?: string[];

  @ApiPropertyOptional({ type: [String], example: ['s1', '2024.brand'], description: 'DKIM selectors whose keys are checked at <selector>._domainkey.<name> (selectors cannot be discovered)' })
  @IsOptional()
  @IsArray({ message: 'dkimSelectors must be a list of DKIM selectors' })
  @ArrayMaxSize(50)
  @ArrayUnique((s: string) => (typeof s === 'string' ? s.toLowerCase() : s))
  @Matches(/^(?=.{1,200}$)[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*$/, {
    each: true,
    message: 'each of dkimSelectors must be a DKIM selector: DNS labels of letters, digits and hyphens (s1, 2024.brand)',
  })
  dkimSelectors?: string[];

  @ApiPropertyOptional({ type: 'object', additionalProperties: { type: 'string' }, example: { team: 'mail' } })
  @IsOptional()
  @IsLabelMap()
  labels?: Record<string, string>;

  @ApiPropertyOptional({ default: true })
  @IsOptional()
  @IsBoolean({ message: 'enabled must be true or false' })
  enabled?: boolean;

  toSpec(): DomainSpec {
    return {
      name: normalise(this.name),
      intervalSeconds: this.intervalSeconds ?? null,
      submissionHosts: [...new Set((this.submissionHosts ?? []).map(normalise))],
      sendingIps: [...new Set(this.sendingIps ?? [])],
      dkimSelectors: [...new Set((this.dkimSelectors ?? []).map((s) => s.toLowerCase()))],
      labels: this.labels ?? {},
      enabled: this.enabled ?? true,
    };
  }
}

export class CreateDomainDto extends DomainInputDto {}

export class UpdateDomainDto extends PartialType(OmitType(DomainInputDto, ['name'] as const)) {}

/** Filters of `GET /domains`. */
export class DomainsQueryDto {
  @ApiPropertyOptional({ type: [String], example: ['team=mail'], description: 'name=value; repeat for several labels, all must match' })
  @IsOptional()
  @IsLabelSelectors()
  label?: string | string[];

  /** The label pairs asked for (validated by the pipe first). */
  labels(): Record<string, string> {
    const r = parseLabelSelectors(this.label);
    return r.ok ? r.labels : {};
  }
}

export class DomainDto {
  @ApiProperty({ example: 'example.com' }) name!: string;
  @ApiProperty({ nullable: true, type: Number }) intervalSeconds!: number | null;
  @ApiProperty({ description: 'interval in force (own or the default)' }) effectiveIntervalSeconds!: number;
  @ApiProperty({ type: [String] }) submissionHosts!: string[];
  @ApiProperty({ type: [String] }) sendingIps!: string[];
  @ApiProperty({ type: [String] }) dkimSelectors!: string[];
  @ApiProperty({ type: 'object', additionalProperties: { type: 'string' } }) labels!: Record<string, string>;
  @ApiProperty() enabled!: boolean;
  @ApiProperty({ enum: ['api', 'config'], description: 'config: managed by the YAML file' }) source!: string;
  @ApiProperty({ nullable: true, type: String, format: 'date-time' }) lastCheckAt!: string | null;
  @ApiProperty({ nullable: true, type: String, format: 'date-time' }) nextCheckAt!: string | null;
  @ApiProperty({ format: 'date-time' }) createdAt!: string;
  @ApiProperty({ format: 'date-time' }) updatedAt!: string;
}
