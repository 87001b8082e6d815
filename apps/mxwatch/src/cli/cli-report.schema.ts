/**
 * The shape of `mxwatch check --json`, a promise to scripts. docs/cli-report.schema.json is
 * generated from it (`mxwatch schema`) and a spec keeps the two equal; a breaking change bumps
 * `schemaVersion`.
 */
import { z } from 'zod';

const ISO_TIME = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?Z$/;
const time = z.string().regex(ISO_TIME).describe('UTC time, ISO 8601');

export const STATUS = z.enum(['pass', 'warn', 'fail', 'untestable']).describe('pass < untestable < warn < fail');
export const SEVERITY = z.enum(['critical', 'warning', 'info']);

export const CliFindingSchema = z
  .object({
    code: z.string().regex(/^[A-Z][A-Z0-9_]*$/),
    severity: SEVERITY,
    probe: z.string(),
    target: z.string().describe('what the finding is about: the domain, an MX host, host[ip]:port, ip@zone, ...'),
    message: z.string(),
    remediation: z.string(),
    scope: z
      .enum(['domain', 'monitor'])
      .describe('monitor: about mxwatch itself (its resolver does not validate DNSSEC, its DNSBL queries go through a public resolver), not the domain; never decides exit 1'),
  })
  .strict();

export const CliResultSchema = z
  .object({
    target: z.string(),
    status: STATUS,
    reason: z.string().nullable().describe('machine-readable reason of a non-pass status'),
    durationMs: z.number().min(0),
    details: z.record(z.string(), z.unknown()).describe('probe-specific facts, as stored by the service'),
  })
  .strict();

export const CliProbeSchema = z
  .object({
    name: z.string(),
    title: z.string(),
    scope: z.string(),
    status: STATUS.nullable().describe('worst status of its results; null when it had nothing to run on'),
    results: z.array(CliResultSchema),
    findings: z.array(CliFindingSchema),
  })
  .strict();

export const CliReportSchema = z
  .object({
    schemaVersion: z.literal(1),
    tool: z.literal('mxwatch'),
    version: z.string(),
    domain: z.string(),
    startedAt: time,
    finishedAt: time,
    durationMs: z.number().min(0),
    status: STATUS.describe("worst status of all results (the service's run status)"),
    failOn: SEVERITY,
    outcome: z.enum(['ok', 'findings', 'untestable']).describe('ok: exit 0, findings: exit 1, untestable: exit 3'),
    exitCode: z.union([z.literal(0), z.literal(1), z.literal(3)]),
    settings: z
      .object({
        dnsServers: z.array(z.string()),
        dnsProtocol: z.string(),
        dnsblZones: z.array(z.string()),
        smtpPorts: z.array(z.number().int()),
        timeoutSeconds: z.number().int(),
      })
      .strict(),
    summary: z
      .object({
        critical: z.number().int().min(0),
        warning: z.number().int().min(0),
        info: z.number().int().min(0),
        results: z.number().int().min(0),
        untestable: z.number().int().min(0).describe('results that could not be tested'),
      })
      .strict(),
    findings: z.array(CliFindingSchema).describe('every finding, most severe first'),
    probes: z.array(CliProbeSchema).describe('every registered probe, in registry order'),
  })
  .strict();

export type CliReport = z.infer<typeof CliReportSchema>;
export type CliFinding = z.infer<typeof CliFindingSchema>;

/** The JSON Schema published as docs/cli-report.schema.json. */
export function cliReportJsonSchema(): Record<string, unknown> {
  return {
    title: 'mxwatch check --json report',
    ...z.toJSONSchema(CliReportSchema, { target: 'draft-2020-12' }),
  };
}
