/**
 * `mxwatch check <domain>`: the service's probes, planner and findings rules run once on one
 * domain, from a terminal or a script. No server, no database. Like main.ts, this entry point
 * is a composition root: it takes the environment (through config/) and argv and hands them down.
 */
import 'reflect-metadata';
import { existsSync, readFileSync, realpathSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { ConfigError } from '../config/config-error.js';
import { processEnv } from '../config/env.js';
import { loadConfig } from '../config/load-config.js';
import { CONFIG_EXTENSIONS } from '../config-extensions.js';
import { normaliseDomainName } from '../transport/dns/dns-names.js';
import { useNodeExtraCaFile } from '../transport/net/tls-upgrader.js';
import { flagProblem, parseCliArgs, USAGE, UsageError, type CheckCommand } from './cli-args.js';
import { CheckDeadlineError, runCliCheck, type CheckProgress } from './cli-check.js';
import { cliReportJsonSchema } from './cli-report.schema.js';
import { buildReport, formatHuman, sanitize, style } from './cli-report.js';

export const EXIT_USAGE = 2;
export const EXIT_UNTESTABLE = 3;

interface Io {
  argv: readonly string[];
  env: Readonly<Record<string, string | undefined>>;
  cwd: string;
  stdout: NodeJS.WriteStream;
  stderr: NodeJS.WriteStream;
}

function version(): string {
  let dir = path.dirname(fileURLToPath(import.meta.url));
  for (;;) {
    const file = path.join(dir, 'package.json');
    if (existsSync(file)) {
      const pkg = JSON.parse(readFileSync(file, 'utf8')) as { name?: string; version?: string };
      if (pkg.name === 'mxwatch' && pkg.version) return pkg.version;
    }
    const parent = path.dirname(dir);
    if (parent === dir) return 'unknown';
    dir = parent;
  }
}

function progressLine(io: Io, domain: string, startedAt: number) {
  let last = 0;
  return {
    update(p: CheckProgress) {
      const now = Date.now();
      if (now - last < 100 && p.running.length > 0) return;
      last = now;
      const secs = ((now - startedAt) / 1000).toFixed(1);
      const line = `checking ${domain}: ${p.finished}/${p.started} probe runs done${p.running.length ? `, running ${p.running.join(', ')}` : ''} (${secs} s)`;
      io.stderr.write(`\r\u001b[2K${line.slice(0, (io.stderr.columns || 100) - 1)}`);
    },
    clear() {
      io.stderr.write('\r\u001b[2K');
    },
  };
}

async function check(cmd: CheckCommand, io: Io): Promise<number> {
  const name = normaliseDomainName(cmd.domain);
  if (!name.ok) {
    io.stderr.write(`mxwatch: "${sanitize(cmd.domain)}" is not a valid domain name: ${name.error}\n`);
    return EXIT_USAGE;
  }
  // The CLI listens on nothing: the service's listener settings (and the rule that a public
  // listener needs a token) do not apply to it.
  const { HOST: _host, PORT: _port, ...serviceEnv } = io.env;
  let config;
  try {
    config = loadConfig({ env: { ...serviceEnv, ...cmd.env }, cwd: io.cwd, extensions: CONFIG_EXTENSIONS });
  } catch (e) {
    if (!(e instanceof ConfigError)) throw e;
    io.stderr.write(`mxwatch: invalid configuration:\n${e.problems.map((p) => `  - ${flagProblem(p, cmd.env)}`).join('\n')}\n`);
    return EXIT_USAGE;
  }
  // As main.ts does: an expired certificate from a CA the operator added is expired, not untrusted.
  useNodeExtraCaFile(config.nodeExtraCaCerts);
  const tty = io.stderr.isTTY === true && !cmd.json;
  const progress = tty ? progressLine(io, name.name, Date.now()) : null;
  let outcome;
  try {
    outcome = await runCliCheck(
      config,
      { name: name.name, submissionHosts: cmd.submissionHosts, sendingIps: cmd.sendingIps, dkimSelectors: cmd.dkimSelectors },
      (p) => progress?.update(p),
    );
  } catch (e) {
    progress?.clear();
    if (e instanceof CheckDeadlineError) {
      io.stderr.write(`mxwatch: ${e.message}\n`);
      return EXIT_UNTESTABLE;
    }
    throw e;
  }
  progress?.clear();
  const report = buildReport({
    version: version(),
    domain: name.name,
    startedAt: outcome.startedAt,
    finishedAt: outcome.finishedAt,
    failOn: cmd.failOn,
    settings: {
      dnsServers: config.dns.servers,
      dnsProtocol: config.dns.protocol,
      dnsblZones: config.dnsblZones,
      smtpPorts: config.smtpPorts,
      timeoutSeconds: config.checkTimeoutSeconds,
    },
    probes: outcome.probes.map((p) => ({ name: p.name, title: p.title, scope: p.scope })),
    results: outcome.results,
    findings: outcome.findings,
  });
  if (cmd.json) {
    io.stdout.write(`${JSON.stringify(report, null, 2)}\n`);
  } else {
    const color = cmd.color === 'always' || (cmd.color === 'auto' && io.stdout.isTTY === true && io.env.NO_COLOR === undefined);
    io.stdout.write(formatHuman(report, style(color), { verbose: cmd.verbose }));
  }
  return report.exitCode;
}

export async function runCli(io: Io): Promise<number> {
  let cmd;
  try {
    cmd = parseCliArgs(io.argv);
  } catch (e) {
    if (!(e instanceof UsageError)) throw e;
    io.stderr.write(`mxwatch: ${e.message}\n\n${USAGE}`);
    return EXIT_USAGE;
  }
  switch (cmd.command) {
    case 'help':
      io.stdout.write(USAGE);
      return 0;
    case 'version':
      io.stdout.write(`${version()}\n`);
      return 0;
    case 'schema':
      io.stdout.write(`${JSON.stringify(cliReportJsonSchema(), null, 2)}\n`);
      return 0;
    case 'check':
      return check(cmd, io);
  }
}

/** Runs the command line of this process and exits with its status. The bin launcher calls it. */
export function runFromProcess(): void {
  runCli({ argv: process.argv.slice(2), env: processEnv(), cwd: process.cwd(), stdout: process.stdout, stderr: process.stderr }).then(
    // Sockets or resolver timers a probe left behind must not keep a finished check waiting.
    (code) => process.stdout.write('', () => process.exit(code)),
    (e: unknown) => {
      process.stderr.write(`mxwatch: the check failed: ${e instanceof Error ? (e.stack ?? e.message) : String(e)}\n`);
      process.exit(EXIT_UNTESTABLE);
    },
  );
}

function isEntry(): boolean {
  try {
    return process.argv[1] !== undefined && realpathSync(process.argv[1]) === realpathSync(fileURLToPath(import.meta.url));
  } catch {
    return false;
  }
}

if (isEntry()) runFromProcess();
