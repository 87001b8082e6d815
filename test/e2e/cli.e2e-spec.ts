/**
 * `mxwatch check` as an operator runs it: the BUILT command, against the fake internet, with
 * the service's variables. Exit codes and findings are exact; --json is validated against the
 * schema published in docs/.
 */
import { spawn } from 'node:child_process';
import { mkdirSync, readFileSync, symlinkSync, copyFileSync, rmSync } from 'node:fs';
import path from 'node:path';
import { Ajv2020 } from 'ajv/dist/2020.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MAIN, ROOT, startApp, tempDir, type RunningApp } from '../support/app-process.js';
import { createFakeInternet, type FakeInternet } from '../support/fake-internet.js';
import { createTestDatabase } from '../support/postgres.js';

const CLI = path.join(path.dirname(MAIN), 'cli', 'main.js');
const SCHEMA = JSON.parse(readFileSync(path.join(ROOT, 'docs/cli-report.schema.json'), 'utf8'));

interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
}

function run(script: string, args: string[], env: Record<string, string>, timeoutMs = 60_000): Promise<Run> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [script, ...args], { env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '/tmp', ...env }, cwd: tempDir('mxwatch-cli-cwd-'), stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    child.once('exit', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
  });
}

const CORE = 'mx,smtp,starttls,dnsbl';
const keys = (findings: Array<{ code: string; target: string; severity: string }>) => findings.map((f) => `${f.code} ${f.target} ${f.severity}`).sort();

describe('mxwatch check (the built command)', () => {
  let net: FakeInternet;
  let env: Record<string, string>;
  let healthyIp: string;
  let brokenIp: string;
  const validate = new Ajv2020({ strict: true, allErrors: true }).compile(SCHEMA);
  // The rig publishes what the MX, SMTP, STARTTLS and DNSBL probes look at; the policy probes
  // (SPF, DMARC, MTA-STS, ...) have their own suites, so the exact cases run these four.
  const cli = (...args: string[]) => run(CLI, args[0] === 'check' && args.length > 1 ? [...args, '--probes', CORE] : args, env);

  beforeAll(async () => {
    net = await createFakeInternet();
    // The service's own variables for the fake internet, minus what only a server uses.
    const { MXWATCH_SCHEDULER: _s, MXWATCH_ALERT_AFTER: _a, ...probeEnv } = net.env;
    env = probeEnv;
    healthyIp = (await net.addMailDomain('healthy.test', { mx: [{ host: 'mx.healthy.test' }], txt: ['v=spf1 mx -all'] })).mx[0]!.ip!;
    net.dns.setRecords('_dmarc.healthy.test', 'TXT', ['v=DMARC1; p=reject; rua=mailto:dmarc@healthy.test']);
    brokenIp = (await net.addMailDomain('broken.test', { mx: [{ host: 'mx.broken.test', behaviour25: 'no-starttls' }, { host: 'mx2.broken.test', pref: 20, behaviour25: 'closed' }], txt: ['v=spf1 mx -all'] })).mx[0]!.ip!;
    net.dnsbl('zen.spamhaus.org').listIp(brokenIp, { codes: ['127.0.0.2'] });
    await net.addMailDomain('servfail.test', { mx: [{ host: 'mx.servfail.test' }] });
    net.dns.setFault('servfail.test', { rcode: 'SERVFAIL' });
  });

  afterAll(async () => {
    await net?.close();
  });

  it('should exit 0 with no finding for a healthy domain, and say so in plain text when not on a terminal', async () => {
    const r = await cli('check', 'healthy.test');
    expect(r.code, r.stderr + r.stdout).toBe(0);
    expect(r.stdout).toMatch(/^mxwatch check healthy\.test /);
    expect(r.stdout).toContain('PASS            smtp');
    expect(r.stdout).toMatch(/Nothing at or above warning \(0 critical, 0 warning, 0 info\)\. exit 0\n$/);
    expect(r.stdout).not.toContain('\u001b[');
    // No progress line when stderr is not a terminal.
    expect(r.stderr).toBe('');
  });

  it('should exit 1 and list each finding with its remediation for a broken domain', async () => {
    const r = await cli('check', 'broken.test', '--json');
    expect(r.code, r.stderr).toBe(1);
    const report = JSON.parse(r.stdout);
    expect(validate(report), JSON.stringify(validate.errors)).toBe(true);
    const mx2 = report.probes.find((p: { name: string }) => p.name === 'mx').results[0].details.hosts.find((h: { host: string }) => h.host === 'mx2.broken.test').addresses[0];
    expect(keys(report.findings)).toEqual(
      [
        `DNSBL_LISTED ${brokenIp}@zen.spamhaus.org critical`,
        `SMTP_PORT_UNREACHABLE mx2.broken.test[${mx2}]:25 critical`,
        `STARTTLS_NOT_OFFERED mx.broken.test[${brokenIp}]:25 critical`,
      ].sort(),
    );
    expect(report).toMatchObject({ domain: 'broken.test', status: 'fail', outcome: 'findings', exitCode: 1, failOn: 'warning', summary: { critical: 3, warning: 0, info: 0, untestable: 0 } });
    for (const f of report.findings) expect(f.remediation.length).toBeGreaterThan(10);

    const text = await cli('check', 'broken.test');
    expect(text.code).toBe(1);
    expect(text.stdout).toContain(`    CRITICAL STARTTLS_NOT_OFFERED mx.broken.test[${brokenIp}]:25\n`);
    expect(text.stdout).toMatch(/STARTTLS_NOT_OFFERED[^\n]*\n {6}\S[^\n]*\n {6}fix: \S/);
    expect(text.stdout).toContain('Findings at or above warning: 3 critical, 0 warning, 0 info. exit 1');
  });

  it('should fail on criticals with --fail-on critical, and on an info finding only with --fail-on info', async () => {
    expect((await cli('check', 'broken.test', '--fail-on', 'critical')).code).toBe(1);
    // A null MX is an info finding: not a failure at the default threshold, a failure with --fail-on info.
    await net.addMailDomain('nomail.test', { nullMx: true });
    const def = await cli('check', 'nomail.test', '--json');
    expect(def.code, def.stderr).toBe(0);
    expect(keys(JSON.parse(def.stdout).findings)).toEqual(['MX_NULL nomail.test info']);
    expect((await cli('check', 'nomail.test', '--fail-on', 'info')).code).toBe(1);
  });

  it('should exit 3 for a domain whose DNS cannot be asked, raising no finding against it', async () => {
    const r = await cli('check', 'servfail.test', '--json');
    expect(r.code, r.stderr).toBe(3);
    const report = JSON.parse(r.stdout);
    expect(validate(report), JSON.stringify(validate.errors)).toBe(true);
    expect(report.findings).toEqual([]);
    expect(report).toMatchObject({ status: 'untestable', outcome: 'untestable', exitCode: 3 });
    expect(report.probes.find((p: { name: string }) => p.name === 'mx')).toMatchObject({ status: 'untestable', results: [{ target: 'servfail.test', status: 'untestable' }] });
    const text = await cli('check', 'servfail.test');
    expect(text.code).toBe(3);
    expect(text.stdout).toMatch(/Could not test everything: \d+ of \d+ results untestable \(0 critical, 0 warning, 0 info\)\. exit 3\n$/);
  });

  it('should take settings from flags over the environment, and check only the ports given', async () => {
    const r = await cli('check', 'broken.test', '--json', '--ports', '587', '--dnsbl-zones', 'dbl.spamhaus.org:domain');
    const report = JSON.parse(r.stdout);
    expect(report.settings).toMatchObject({ smtpPorts: [587], dnsblZones: ['dbl.spamhaus.org:domain'] });
    // Port 25 was not probed, so neither the missing STARTTLS nor the closed port is seen; the IP list was not asked.
    expect(keys(report.findings)).toEqual([]);
    expect(r.code).toBe(0);
  });

  it('should exit 2 with the usage or the configuration problem, naming the flag', async () => {
    const usage = await cli('check');
    expect(usage.code).toBe(2);
    expect(usage.stderr).toContain('mxwatch: check needs a domain');
    expect(usage.stderr).toContain('Usage: mxwatch check <domain>');
    const bad = await cli('check', 'a.test', '--dns-protocol', 'ftp');
    expect(bad.code).toBe(2);
    expect(bad.stderr).toContain('--dns-protocol: must be one of');
    const badEnv = await run(CLI, ['check', 'a.test'], { ...env, MXWATCH_SMTP_PORTS: '0' });
    const unknownProbe = await run(CLI, ['check', 'a.test', '--probes', 'mx,nope'], env);
    expect(unknownProbe.code).toBe(2);
    expect(unknownProbe.stderr).toContain('--probes: unknown probe "nope" (registered: mx, ');
    expect(badEnv.code).toBe(2);
    expect(badEnv.stderr).toContain('MXWATCH_SMTP_PORTS:');
    const badDomain = await cli('check', 'https://a.test/');
    expect(badDomain.code).toBe(2);
    expect(badDomain.stderr).toContain('is not a valid domain name');
  });

  it('should stop at its total deadline and exit 3 when the DNS never answers', async () => {
    net.dns.setFault('slow.test', { drop: true });
    const r = await run(CLI, ['check', 'slow.test', '--timeout', '2', '--json', '--probes', CORE], { ...env, MXWATCH_DNS_TIMEOUT_MS: '5000', MXWATCH_DNS_ATTEMPTS: '1' }, 30_000);
    expect(r.code, r.stderr).toBe(3);
    const report = JSON.parse(r.stdout);
    expect(report.findings).toEqual([]);
    expect(report.probes.find((p: { name: string }) => p.name === 'mx').status).toBe('untestable');
  });

  it('should show a progress line and colour on a terminal', async () => {
    // util-linux `script` gives the command a pseudo-terminal, as an operator's shell would.
    const quote = (s: string) => `'${s.replace(/'/g, `'\\''`)}'`;
    const command = [process.execPath, CLI, 'check', 'broken.test', '--probes', CORE].map(quote).join(' ');
    const r = await new Promise<Run>((resolve) => {
      const child = spawn('script', ['-qec', command, '/dev/null'], { env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '/tmp', TERM: 'xterm', ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
      let stdout = '';
      child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
      child.once('exit', (code) => resolve({ code, stdout, stderr: '' }));
    });
    expect(r.code).toBe(1);
    expect(r.stdout).toMatch(/\r\u001b\[2Kchecking broken\.test: \d+\/\d+ probe runs done/);
    expect(r.stdout).toContain('\u001b[31mCRITICAL\u001b[0m');
  });

  it('should run every registered probe by default, report each, and exit as its findings say', async () => {
    const all = await run(CLI, ['check', 'broken.test', '--json'], env);
    const report = JSON.parse(all.stdout);
    expect(validate(report), JSON.stringify(validate.errors)).toBe(true);
    const core = JSON.parse((await cli('check', 'broken.test', '--json')).stdout);
    expect(report.probes.length).toBeGreaterThan(core.probes.length);
    // --probes runs the named probes and what they need (registry order), nothing else.
    expect(core.probes.map((p: { name: string }) => p.name)).toEqual(expect.arrayContaining(CORE.split(',')));
    expect(core.probes.map((p: { name: string }) => p.name)).toEqual(report.probes.map((p: { name: string }) => p.name).filter((n: string) => core.probes.some((c: { name: string }) => c.name === n)));
    // What the four core probes found is found again in the full run.
    expect(keys(report.findings)).toEqual(expect.arrayContaining(keys(core.findings)));
    expect(all.code).toBe(1);
    expect(report.exitCode).toBe(1);
  });

  it('should run through the bin launcher, and tell how to build when dist/ is missing', async () => {
    const dir = tempDir('mxwatch-bin-');
    try {
      mkdirSync(path.join(dir, 'bin'));
      copyFileSync(path.join(ROOT, 'bin/mxwatch.js'), path.join(dir, 'bin/mxwatch.js'));
      copyFileSync(path.join(ROOT, 'package.json'), path.join(dir, 'package.json'));
      const missing = await run(path.join(dir, 'bin/mxwatch.js'), ['check', 'healthy.test', '--probes', CORE], env);
      expect(missing.code).toBe(2);
      expect(missing.stderr).toContain('build it first with "npm run build"');
      symlinkSync(path.dirname(MAIN), path.join(dir, 'dist'));
      const ok = await run(path.join(dir, 'bin/mxwatch.js'), ['check', 'healthy.test', '--probes', CORE], env);
      expect(ok.code, ok.stderr).toBe(0);
      expect(ok.stdout).toContain('exit 0');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('mxwatch check and the service agree', () => {
  let net: FakeInternet;
  let app: RunningApp;
  let dropDb: () => Promise<void>;

  beforeAll(async () => {
    net = await createFakeInternet();
    const db = await createTestDatabase('mxwatch_cli_e2e');
    dropDb = () => db.drop();
    app = await startApp({ ...net.env, DATABASE_URL: db.url });
  });

  afterAll(async () => {
    await app?.stop();
    await net?.close();
    await dropDb?.();
  });

  it('should find exactly what a manual check of the service finds (one implementation)', async () => {
    await net.addMailDomain('mixed.test', {
      mx: [
        { host: 'mx.mixed.test', behaviour25: 'wrong-name' },
        { host: 'mx2.mixed.test', pref: 20, behaviour25: 'no-starttls' },
        { host: 'gone.mixed.test', pref: 30, ip: null },
        { host: 'old.mixed.test', pref: 40, behaviour25: 'expired-cert' },
      ],
    });
    expect((await app.api('POST', '/api/v1/domains', { name: 'mixed.test' })).status).toBe(201);
    const service = await app.api('POST', '/api/v1/domains/mixed.test/check');
    expect(service.status, service.text).toBe(200);
    const { MXWATCH_SCHEDULER: _s, MXWATCH_ALERT_AFTER: _a, ...probeEnv } = net.env;
    const r = await run(CLI, ['check', 'mixed.test', '--json'], probeEnv);
    const report = JSON.parse(r.stdout);
    expect(keys(report.findings)).toEqual(keys(service.body.findings.observed));
    expect(keys(report.findings).length).toBeGreaterThanOrEqual(3);
    const targets = (results: Array<{ target: string; status: string }>) => results.map((x) => `${x.target} ${x.status}`).sort();
    // The service keeps a port closed and not required as a line of the run's facts, not a result
    // row (storage proportional to what was probed); the one-shot CLI shows it among the results.
    const facts = (service.body.facts as string[]).map((f) => {
      const [, target, reason] = f.split(' ');
      expect(reason).toBe('port_closed_not_required');
      return { target: target!, status: 'pass' };
    });
    expect(facts.length).toBeGreaterThan(0);
    expect(targets(report.probes.flatMap((p: { results: [] }) => p.results))).toEqual(targets([...service.body.results, ...facts]));
    expect(report.status).toBe(service.body.status);
  });
});
