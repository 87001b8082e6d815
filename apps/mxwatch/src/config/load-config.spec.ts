import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { ConfigError } from './config-error.js';
import { loadConfig } from './load-config.js';

const dirs: string[] = [];
function withFile(text: string): { env: Record<string, string>; cwd: string } {
  const dir = mkdtempSync(path.join(tmpdir(), 'mxwatch-config-'));
  dirs.push(dir);
  writeFileSync(path.join(dir, 'mxwatch.yml'), text);
  return { env: { MXWATCH_CONFIG: 'mxwatch.yml' }, cwd: dir };
}

function problems(fn: () => unknown): string[] {
  try {
    fn();
  } catch (e) {
    if (e instanceof ConfigError) return e.problems;
    throw e;
  }
  throw new Error('expected a ConfigError');
}

afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

describe('loadConfig', () => {
  it('should apply the documented defaults', () => {
    const c = loadConfig({ env: {}, cwd: tmpdir() });
    expect(c).toMatchObject({
      databaseUrl: undefined,
      dataDir: './data',
      port: 3000,
      host: '0.0.0.0',
      dns: { servers: ['1.1.1.1', '1.0.0.1'], protocol: 'https' },
      smtpPorts: [25, 587, 465],
      checkIntervalSeconds: 300,
      scheduler: true,
      retentionDays: 90,
      alertAfter: 2,
      certWarnDays: 14,
      domains: null,
      notifications: [],
    });
    expect(c.dnsblZones.length).toBeGreaterThan(0);
    expect(c.dnsblZones.some((z) => z.endsWith('sorbs.net'))).toBe(false);
    expect(c.portMap.size).toBe(0);
  });

  it('should read env values and let env override the YAML file', () => {
    const { env, cwd } = withFile('settings:\n  checkInterval: 600\n  alertAfter: 3\n  dnsServers: [127.0.0.1:8053]\n  dnsProtocol: http\n');
    const c = loadConfig({ env: { ...env, MXWATCH_CHECK_INTERVAL: '120', MXWATCH_PORT_MAP: '25:2525,587:2587', MXWATCH_SCHEDULER: 'false' }, cwd });
    expect(c.checkIntervalSeconds).toBe(120);
    expect(c.alertAfter).toBe(3);
    expect(c.dns).toMatchObject({ servers: ['127.0.0.1:8053'], protocol: 'http' });
    expect([...c.portMap]).toEqual([[25, 2525], [587, 2587]]);
    expect(c.scheduler).toBe(false);
  });

  it('should turn MXWATCH_WEBHOOK_URL into a webhook channel', () => {
    const c = loadConfig({ env: { MXWATCH_WEBHOOK_URL: 'http://127.0.0.1:9/hook', MXWATCH_WEBHOOK_SECRET: 's3cret' }, cwd: tmpdir() });
    expect(c.notifications).toEqual([{ type: 'webhook', name: 'env-webhook', url: 'http://127.0.0.1:9/hook', secret: 's3cret' }]);
  });

  it.each([
    [{ MXWATCH_CHECK_INTERVAL: 'often' }, 'MXWATCH_CHECK_INTERVAL: must be a whole number, got "often"'],
    [{ MXWATCH_CHECK_INTERVAL: '5' }, 'MXWATCH_CHECK_INTERVAL: must be between 10 and 604800, got 5'],
    [{ PORT: '70000' }, 'PORT: must be between 0 and 65535, got 70000'],
    [{ MXWATCH_SCHEDULER: 'maybe' }, 'MXWATCH_SCHEDULER: must be true or false, got "maybe"'],
    [{ MXWATCH_DNS_PROTOCOL: 'dot' }, 'MXWATCH_DNS_PROTOCOL: must be one of https, http, udp, tcp, got "dot"'],
    [{ MXWATCH_DNS_SERVERS: 'a b' }, 'MXWATCH_DNS_SERVERS: "a b" is not host or host:port'],
    [{ MXWATCH_SMTP_PORTS: '25,x' }, 'MXWATCH_SMTP_PORTS: must be a whole number, got "x"'],
    [{ DATABASE_URL: 'mysql://db' }, 'DATABASE_URL: must be a postgresql: or postgres: URL, got mysql:'],
    [{ MXWATCH_API_TOKEN: 'short' }, 'MXWATCH_API_TOKEN: must be at least 16 characters long'],
    [{ MXWATCH_ALLOW_PRIVATE_TARGETS: '10.0.0.0/8,nope' }, 'MXWATCH_ALLOW_PRIVATE_TARGETS: "nope" is not an IP address or CIDR range'],
    [{ MXWATCH_WEBHOOK_SECRET: 'x' }, 'MXWATCH_WEBHOOK_SECRET: is set but MXWATCH_WEBHOOK_URL is not'],
    [{ MXWATCH_CONFIG: '/nonexistent.yml' }, 'MXWATCH_CONFIG: file /nonexistent.yml does not exist'],
  ])('should reject %o', (env, message) => {
    expect(problems(() => loadConfig({ env, cwd: tmpdir() }))).toContain(message);
  });

  it('should reject unknown and decommissioned DNSBL zones by name', () => {
    const p = problems(() => loadConfig({ env: { MXWATCH_DNSBL_ZONES: 'dnsbl.sorbs.net' }, cwd: tmpdir() }));
    expect(p[0]).toMatch(/^MXWATCH_DNSBL_ZONES: .*sorbs/);
  });

  it('should report every problem of a YAML file with its path', () => {
    const { env, cwd } = withFile(
      [
        'settings:',
        '  checkInterval: -5',
        '  colour: blue',
        'domains:',
        '  - good.example',
        '  - name: "bad domain"',
        '  - name: ok.example',
        '    intervalSeconds: 1',
        '  - name: ok2.example',
        '    extra: 1',
        'notifications:',
        '  - type: pager',
        '    name: p',
        'other: 1',
      ].join('\n'),
    );
    const p = problems(() => loadConfig({ env, cwd }));
    expect(p).toEqual(
      expect.arrayContaining([
        'mxwatch.yml: settings.checkInterval: must be between 10 and 604800, got -5',
        'mxwatch.yml: settings.colour: unknown setting',
        'mxwatch.yml: other: unknown section (expected one of settings, domains, notifications)',
        'mxwatch.yml: domains[2].intervalSeconds: intervalSeconds must be at least 30',
        'mxwatch.yml: domains[3].extra: property extra should not exist',
      ]),
    );
    expect(p.some((m) => /^mxwatch.yml: domains\[1\]\.name: "bad domain" is not a valid domain name/.test(m))).toBe(true);
    expect(p.some((m) => m.startsWith('mxwatch.yml: notifications[0].type'))).toBe(true);
  });

  it('should reject YAML that does not parse, naming the file', () => {
    const { env, cwd } = withFile('settings: [unclosed\n');
    expect(problems(() => loadConfig({ env, cwd }))[0]).toMatch(/^mxwatch.yml: not valid YAML: /);
  });

  it('should normalise YAML domains and refuse a domain listed twice with different settings', () => {
    const { env, cwd } = withFile('domains:\n  - name: Example.COM.\n    submissionHosts: [SMTP.example.com]\n  - name: example.com\n    intervalSeconds: 60\n');
    expect(problems(() => loadConfig({ env, cwd }))).toContain('mxwatch.yml: domains[1].name: example.com is listed twice');
    const ok = withFile('domains:\n  - name: Example.COM.\n    submissionHosts: [SMTP.example.com]\n');
    expect(loadConfig(ok).domains).toEqual([
      { name: 'example.com', intervalSeconds: null, submissionHosts: ['smtp.example.com'], sendingIps: [], labels: {}, enabled: true, dkimSelectors: [] },
    ]);
  });
});
