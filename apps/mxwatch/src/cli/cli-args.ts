import { parseArgs } from 'node:util';
import type { Severity } from '../probes/probe-definition.js';

export const FAIL_ON: readonly Severity[] = ['critical', 'warning', 'info'];

export interface CheckCommand {
  command: 'check';
  domain: string;
  json: boolean;
  failOn: Severity;
  color: 'auto' | 'always' | 'never';
  verbose: boolean;
  /** Settings given as flags, as the service's variables (so the one config loader checks them). */
  env: Record<string, string>;
  submissionHosts: string[];
  sendingIps: string[];
  dkimSelectors: string[];
}

export type CliCommand = CheckCommand | { command: 'help' } | { command: 'version' } | { command: 'schema' };

/** A mistake in how the command was called: exit code 2, with the usage. */
export class UsageError extends Error {}

/** Each flag that is a service setting, and the variable it stands for. */
export const SETTING_FLAGS = {
  dns: 'MXWATCH_DNS_SERVERS',
  'dns-protocol': 'MXWATCH_DNS_PROTOCOL',
  'dnsbl-dns': 'MXWATCH_DNSBL_DNS_SERVERS',
  'dnsbl-zones': 'MXWATCH_DNSBL_ZONES',
  ports: 'MXWATCH_SMTP_PORTS',
  timeout: 'MXWATCH_CHECK_TIMEOUT',
  'cert-warn-days': 'MXWATCH_CERT_WARN_DAYS',
  'ehlo-name': 'MXWATCH_EHLO_NAME',
  probes: 'MXWATCH_PROBES',
} as const;

export const USAGE = `Usage: mxwatch check <domain> [options]

Runs every registered probe once on one domain, with the same code and settings as the service
(MXWATCH_* variables and the YAML file), and prints what it found. No server, no database.

Options:
  --json                   print the report as JSON (docs/cli-report.schema.json)
  --fail-on <severity>     exit 1 when a finding is at least this severe: critical, warning (default), info
  --dns <servers>          resolvers, comma-separated, or "system"   (MXWATCH_DNS_SERVERS)
  --dns-protocol <p>       https, http, udp or tcp                   (MXWATCH_DNS_PROTOCOL)
  --dnsbl-dns <servers>    resolvers for block-list queries          (MXWATCH_DNSBL_DNS_SERVERS)
  --dnsbl-zones <zones>    block lists to ask, comma-separated       (MXWATCH_DNSBL_ZONES)
  --ports <ports>          SMTP ports to probe, e.g. 25,587,465      (MXWATCH_SMTP_PORTS)
  --timeout <seconds>      deadline of the whole check               (MXWATCH_CHECK_TIMEOUT)
  --cert-warn-days <n>     certificate expiry warning threshold      (MXWATCH_CERT_WARN_DAYS)
  --ehlo-name <name>       name announced in EHLO                    (MXWATCH_EHLO_NAME)
  --submission-host <h>    also probe this submission host (repeatable)
  --sending-ip <ip>        also look this sending address up in block lists (repeatable)
  --dkim-selector <s>      DKIM selector to check (repeatable)
  --probes <names>         only these probes and what they need, e.g. mx,smtp  (MXWATCH_PROBES)
  --verbose                list every result, not only the ones that did not pass
  --color, --no-color      colour even when not a terminal, or never (NO_COLOR is honoured)
  -h, --help               this text
  --version                the mxwatch version

Exit status: 0 nothing at or above --fail-on; 1 findings at or above it; 2 usage or
configuration error; 3 the check could not test something (and found nothing at or above it).
`;

export function parseCliArgs(argv: readonly string[]): CliCommand {
  let parsed;
  try {
    parsed = parseArgs({
      args: [...argv],
      allowPositionals: true,
      strict: true,
      options: {
        json: { type: 'boolean' },
        'fail-on': { type: 'string' },
        verbose: { type: 'boolean' },
        color: { type: 'boolean' },
        'no-color': { type: 'boolean' },
        help: { type: 'boolean', short: 'h' },
        version: { type: 'boolean' },
        'submission-host': { type: 'string', multiple: true },
        'sending-ip': { type: 'string', multiple: true },
        'dkim-selector': { type: 'string', multiple: true },
        ...Object.fromEntries(Object.keys(SETTING_FLAGS).map((k) => [k, { type: 'string' as const }])),
      },
    });
  } catch (e) {
    // node:util's messages name the flag ("Unknown option '--x'", "Option '--dns <value>' argument missing").
    throw new UsageError((e as Error).message);
  }
  const { values, positionals } = parsed;
  if (values.help) return { command: 'help' };
  if (values.version) return { command: 'version' };
  const [command, ...rest] = positionals;
  if (command === undefined) throw new UsageError('no command given');
  if (command === 'schema' && rest.length === 0) return { command: 'schema' };
  if (command !== 'check') throw new UsageError(`unknown command "${command}" (the command is "check")`);
  if (rest.length === 0) throw new UsageError('check needs a domain, e.g. mxwatch check example.com');
  if (rest.length > 1) throw new UsageError(`check takes one domain, got ${rest.length}: ${rest.join(' ')}`);
  const failOn = (values['fail-on'] ?? 'warning') as Severity;
  if (!FAIL_ON.includes(failOn)) throw new UsageError(`--fail-on must be one of ${FAIL_ON.join(', ')}, got "${values['fail-on']}"`);
  if (values.color && values['no-color']) throw new UsageError('--color and --no-color contradict each other');
  const env: Record<string, string> = {};
  for (const [flag, variable] of Object.entries(SETTING_FLAGS)) {
    const v = (values as Record<string, unknown>)[flag];
    if (typeof v === 'string') env[variable] = v;
  }
  return {
    command: 'check',
    domain: rest[0]!,
    json: values.json === true,
    failOn,
    color: values.color ? 'always' : values['no-color'] ? 'never' : 'auto',
    verbose: values.verbose === true,
    env,
    submissionHosts: values['submission-host'] ?? [],
    sendingIps: values['sending-ip'] ?? [],
    dkimSelectors: values['dkim-selector'] ?? [],
  };
}

/** A configuration problem about a variable that came from a flag names the flag instead. */
export function flagProblem(problem: string, fromFlags: Record<string, string>): string {
  for (const [flag, variable] of Object.entries(SETTING_FLAGS)) {
    if (variable in fromFlags && problem.startsWith(`${variable}:`)) return `--${flag}:${problem.slice(variable.length + 1)}`;
  }
  return problem;
}
