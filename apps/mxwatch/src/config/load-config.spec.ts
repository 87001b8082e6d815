import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { CONFIG_EXTENSIONS } from '../config-extensions.js';
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
    const c = loadConfig({ env: {}, cwd: tmpdir(), extensions: CONFIG_EXTENSIONS });
    expect(c).toMatchObject({
      databaseUrl: undefined,
      dataDir: './data',
      port: 3000,
      host: '127.0.0.1',
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
    const p = problems(() => loadConfig({ env: { MXWATCH_DNSBL_ZONES: 'dnsbl.sorbs.net' }, cwd: tmpdir(), extensions: CONFIG_EXTENSIONS }));
    expect(p[0]).toMatch(/^MXWATCH_DNSBL_ZONES: .*sorbs/);
  });

  it('should take MXWATCH_PROBES as a list of registered probe names and refuse an unknown one by name', () => {
    expect(loadConfig({ env: { MXWATCH_PROBES: 'mx,starttls' }, cwd: tmpdir(), extensions: CONFIG_EXTENSIONS }).probes).toEqual(['mx', 'starttls']);
    expect(loadConfig({ env: {}, cwd: tmpdir(), extensions: CONFIG_EXTENSIONS }).probes).toEqual([]);
    const p = problems(() => loadConfig({ env: { MXWATCH_PROBES: 'mx,mtasts' }, cwd: tmpdir(), extensions: CONFIG_EXTENSIONS }));
    expect(p[0]).toMatch(/^MXWATCH_PROBES: unknown probe "mtasts" \(registered: mx, .*mta-sts/);
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

describe('loadConfig: settings added for resolvers, scale-out and hardening', () => {
  it('should apply their documented defaults', () => {
    const c = loadConfig({ env: {}, cwd: tmpdir() });
    expect(c).toMatchObject({
      dns: { servers: ['1.1.1.1', '1.0.0.1'], protocol: 'https', timeoutMs: 3000, attempts: 3 },
      dnssecCanary: { signed: '.', broken: 'dnssec-failed.org' },
      role: 'all',
      metricsPerDomain: true,
      insecureNoToken: false,
      uiAuth: 'open',
      limits: { maxMxHosts: 10, maxAddresses: 32, maxConnections: 100, manualQueue: 20 },
      notifyRetryHours: 24,
      dbDebug: false,
      publicUrl: 'http://127.0.0.1:3000',
    });
    expect(c.dnsblDns).toEqual(c.dns);
    expect(c.dns.caFile).toBeUndefined();
    for (const unset of ['spamhausDqsKey', 'redisUrl', 'readToken', 'apiToken'] as const) expect(c[unset]).toBeUndefined();
  });

  it('should read every new variable', () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'mxwatch-config-'));
    dirs.push(dir);
    writeFileSync(path.join(dir, 'ca.pem'), 'not checked here');
    const c = loadConfig({
      cwd: dir,
      env: {
        MXWATCH_DNS_SERVERS: '127.0.0.1:8443',
        MXWATCH_DNS_CA_FILE: 'ca.pem',
        MXWATCH_DNSBL_DNS_SERVERS: '127.0.0.53, 127.0.0.54:5353',
        MXWATCH_DNSBL_DNS_PROTOCOL: 'UDP',
        MXWATCH_SPAMHAUS_DQS_KEY: 'abcdefghij0123456789klmnop',
        MXWATCH_DNSSEC_CANARY: 'Example.COM,broken.example',
        MXWATCH_ROLE: 'worker',
        MXWATCH_REDIS_URL: 'redis://127.0.0.1:6379/3',
        MXWATCH_METRICS_PER_DOMAIN: 'false',
        MXWATCH_API_TOKEN: 'a-write-token-of-32-characters!!',
        MXWATCH_READ_TOKEN: 'a-read-token-of-16+',
        MXWATCH_UI_AUTH: 'token',
        MXWATCH_MAX_MX_HOSTS: '3',
        MXWATCH_MAX_ADDRESSES: '8',
        MXWATCH_MAX_CONNECTIONS: '5',
        MXWATCH_MANUAL_QUEUE: '0',
        MXWATCH_NOTIFY_RETRY_HOURS: '48',
        MXWATCH_EHLO_NAME: '[IPv6:2001:db8::25]',
        MXWATCH_DB_DEBUG: '1',
        MXWATCH_TEST_MAIN: 'harness variables are not the service\'s',
      },
    });
    expect(c.dns).toEqual({ servers: ['127.0.0.1:8443'], protocol: 'https', timeoutMs: 3000, attempts: 3, caFile: path.join(dir, 'ca.pem') });
    expect(c.dnsblDns).toEqual({ servers: ['127.0.0.53', '127.0.0.54:5353'], protocol: 'udp', timeoutMs: 3000, attempts: 3, caFile: path.join(dir, 'ca.pem') });
    expect(c).toMatchObject({
      spamhausDqsKey: 'abcdefghij0123456789klmnop',
      dnssecCanary: { signed: 'example.com', broken: 'broken.example' },
      role: 'worker',
      redisUrl: 'redis://127.0.0.1:6379/3',
      metricsPerDomain: false,
      readToken: 'a-read-token-of-16+',
      uiAuth: 'token',
      limits: { maxMxHosts: 3, maxAddresses: 8, maxConnections: 5, manualQueue: 0 },
      notifyRetryHours: 48,
      ehloName: '[IPv6:2001:db8::25]',
      dbDebug: true,
    });
  });

  it('should take "system" as the nameservers of /etc/resolv.conf, spoken to over UDP unless told tcp', () => {
    const c = loadConfig({ env: { MXWATCH_DNS_SERVERS: 'System' }, cwd: tmpdir() });
    expect(c.dns).toMatchObject({ servers: ['system'], protocol: 'udp' });
    expect(c.dnsblDns).toMatchObject({ servers: ['system'], protocol: 'udp' });
    expect(loadConfig({ env: { MXWATCH_DNS_SERVERS: 'system', MXWATCH_DNS_PROTOCOL: 'tcp' }, cwd: tmpdir() }).dns.protocol).toBe('tcp');
    const split = loadConfig({ env: { MXWATCH_DNSBL_DNS_SERVERS: 'system' }, cwd: tmpdir() });
    expect(split.dns).toMatchObject({ servers: ['1.1.1.1', '1.0.0.1'], protocol: 'https' });
    expect(split.dnsblDns).toMatchObject({ servers: ['system'], protocol: 'udp' });
  });

  it.each([
    ['127.0.0.1', {}],
    ['::1', {}],
    ['localhost', {}],
    ['0.0.0.0', { MXWATCH_API_TOKEN: 'sixteen-chars-ok' }],
    ['192.0.2.10', { MXWATCH_INSECURE_NO_TOKEN: 'true' }],
  ])('should start on HOST %s with %o', (host, env) => {
    expect(loadConfig({ env: { HOST: host, ...env }, cwd: tmpdir() }).host).toBe(host);
  });

  it('should bracket an IPv6 host in the default public URL and keep an explicit one', () => {
    expect(loadConfig({ env: { HOST: '::1' }, cwd: tmpdir() }).publicUrl).toBe('http://[::1]:3000');
    expect(loadConfig({ env: { MXWATCH_PUBLIC_URL: 'https://mxwatch.example.net/' }, cwd: tmpdir() }).publicUrl).toBe('https://mxwatch.example.net');
  });

  it.each([
    ['an address literal', '[192.0.2.1]'],
    ['an IPv6 address literal', '[IPv6:2001:db8::1]'],
    ['a host name with a trailing dot', 'probe.example.net.'],
  ])('should accept %s as MXWATCH_EHLO_NAME', (_what, name) => {
    expect(loadConfig({ env: { MXWATCH_EHLO_NAME: name }, cwd: tmpdir() }).ehloName).toBe(name);
  });

  it.each<[Record<string, string>, string]>([
    [{ MXWATCH_DNS_SERVER: '127.0.0.1' }, 'MXWATCH_DNS_SERVER: unknown variable; did you mean MXWATCH_DNS_SERVERS?'],
    [{ MXWATCH_CHECK_INTERVALL: '60' }, 'MXWATCH_CHECK_INTERVALL: unknown variable; did you mean MXWATCH_CHECK_INTERVAL?'],
    [{ MXWATCH_DNSBL_PROTOCOL: 'udp' }, 'MXWATCH_DNSBL_PROTOCOL: unknown variable; did you mean MXWATCH_DNSBL_DNS_PROTOCOL?'],
    [{ MXWATCH_DNSBL_SERVERS: '127.0.0.53' }, 'MXWATCH_DNSBL_SERVERS: unknown variable; did you mean MXWATCH_DNSBL_DNS_SERVERS?'],
    [{ MXWATCH_SPAMHAUS_KEY: 'k' }, 'MXWATCH_SPAMHAUS_KEY: unknown variable; did you mean MXWATCH_SPAMHAUS_DQS_KEY?'],
    [{ MXWATCH_TOKEN: 'k' }, 'MXWATCH_TOKEN: unknown variable; did you mean MXWATCH_API_TOKEN?'],
    [{ MXWATCH_ROLES: 'api' }, 'MXWATCH_ROLES: unknown variable; did you mean MXWATCH_ROLE?'],
    [{ MXWATCH_MODE: 'api' }, 'MXWATCH_MODE: unknown variable'],
    [{ MXWATCH_COLOUR_SCHEME: 'dark' }, 'MXWATCH_COLOUR_SCHEME: unknown variable'],
    [{ MXWATCH_DNS_SERVERS: '' }, 'MXWATCH_DNS_SERVERS: is empty: list at least one server, or unset it to use the default'],
    [{ MXWATCH_DNSBL_DNS_SERVERS: ' , ' }, 'MXWATCH_DNSBL_DNS_SERVERS: is empty: list at least one server, or unset it to use the default'],
    [{ MXWATCH_SMTP_PORTS: '' }, 'MXWATCH_SMTP_PORTS: is empty: list at least one port, or unset it to use the default'],
    [{ MXWATCH_DNSBL_ZONES: '' }, 'MXWATCH_DNSBL_ZONES: is empty: list at least one zone, or unset it to use the default'],
    [{ MXWATCH_ALLOW_PRIVATE_TARGETS: '' }, 'MXWATCH_ALLOW_PRIVATE_TARGETS: is empty: list at least one range, or unset it to use the default'],
    [{ MXWATCH_PORT_MAP: '' }, 'MXWATCH_PORT_MAP: is empty: list at least one mapping, or unset it to use the default'],
    [{ MXWATCH_DNSSEC_CANARY: '' }, 'MXWATCH_DNSSEC_CANARY: is empty: list at least one name, or unset it to use the default'],
    [{ MXWATCH_DNS_SERVERS: 'system,1.1.1.1' }, 'MXWATCH_DNS_SERVERS: "system" (the nameservers of /etc/resolv.conf) cannot be combined with other servers'],
    [
      { MXWATCH_DNS_SERVERS: 'system', MXWATCH_DNS_PROTOCOL: 'https' },
      'MXWATCH_DNS_PROTOCOL: https cannot be used with the "system" servers (the nameservers of /etc/resolv.conf answer plain DNS): use udp or tcp',
    ],
    [{ MXWATCH_DNS_CA_FILE: '/nonexistent/ca.pem' }, 'MXWATCH_DNS_CA_FILE: file /nonexistent/ca.pem does not exist or is not readable'],
    [{ MXWATCH_DNSBL_DNS_PROTOCOL: 'dot' }, 'MXWATCH_DNSBL_DNS_PROTOCOL: must be one of https, http, udp, tcp, got "dot"'],
    [{ MXWATCH_SPAMHAUS_DQS_KEY: 'my key!' }, 'MXWATCH_SPAMHAUS_DQS_KEY: must be the key Spamhaus gave you (letters and digits only)'],
    [{ MXWATCH_DNSSEC_CANARY: 'only-one.example' }, 'MXWATCH_DNSSEC_CANARY: must be "<signed name>,<broken name>", got "only-one.example"'],
    [{ MXWATCH_DNSSEC_CANARY: '.,bad name' }, 'MXWATCH_DNSSEC_CANARY: "bad name" is not a DNS name'],
    [{ MXWATCH_ROLE: 'both' }, 'MXWATCH_ROLE: must be one of all, api, worker, got "both"'],
    [{ MXWATCH_REDIS_URL: 'http://127.0.0.1:6379' }, 'MXWATCH_REDIS_URL: must be a redis: or rediss: URL, got http:'],
    [{ MXWATCH_METRICS_PER_DOMAIN: 'perhaps' }, 'MXWATCH_METRICS_PER_DOMAIN: must be true or false, got "perhaps"'],
    [{ MXWATCH_API_TOKEN: 'sixteen-chars-ok', MXWATCH_READ_TOKEN: 'short' }, 'MXWATCH_READ_TOKEN: must be at least 16 characters long'],
    [
      { MXWATCH_READ_TOKEN: 'sixteen-chars-ok' },
      'MXWATCH_READ_TOKEN: is set but MXWATCH_API_TOKEN is not, which would leave changes open while reads need a token',
    ],
    [{ MXWATCH_INSECURE_NO_TOKEN: 'sure' }, 'MXWATCH_INSECURE_NO_TOKEN: must be true or false, got "sure"'],
    [{ MXWATCH_UI_AUTH: 'basic' }, 'MXWATCH_UI_AUTH: must be one of open, token, got "basic"'],
    [{ MXWATCH_UI_AUTH: 'token' }, 'MXWATCH_UI_AUTH: is token but neither MXWATCH_READ_TOKEN nor MXWATCH_API_TOKEN is set'],
    [{ MXWATCH_MAX_MX_HOSTS: '0' }, 'MXWATCH_MAX_MX_HOSTS: must be between 1 and 1000, got 0'],
    [{ MXWATCH_MAX_ADDRESSES: 'many' }, 'MXWATCH_MAX_ADDRESSES: must be a whole number, got "many"'],
    [{ MXWATCH_MAX_CONNECTIONS: '0' }, 'MXWATCH_MAX_CONNECTIONS: must be between 1 and 100000, got 0'],
    [{ MXWATCH_MANUAL_QUEUE: '-1' }, 'MXWATCH_MANUAL_QUEUE: must be between 0 and 100000, got -1'],
    [{ MXWATCH_NOTIFY_RETRY_HOURS: '0' }, 'MXWATCH_NOTIFY_RETRY_HOURS: must be between 1 and 720, got 0'],
    [
      { MXWATCH_EHLO_NAME: 'probe.example.com\r\nRSET' },
      'MXWATCH_EHLO_NAME: must be a host name (mail.example.com) or an address literal ([192.0.2.1]), got "probe.example.com\\r\\nRSET"',
    ],
    [{ MXWATCH_EHLO_NAME: 'two words' }, 'MXWATCH_EHLO_NAME: must be a host name (mail.example.com) or an address literal ([192.0.2.1]), got "two words"'],
    [{ MXWATCH_EHLO_NAME: '[300.1.1.1]' }, 'MXWATCH_EHLO_NAME: must be a host name (mail.example.com) or an address literal ([192.0.2.1]), got "[300.1.1.1]"'],
    [{ MXWATCH_EHLO_NAME: 'under_score.example' }, 'MXWATCH_EHLO_NAME: must be a host name (mail.example.com) or an address literal ([192.0.2.1]), got "under_score.example"'],
    [
      { HOST: '0.0.0.0' },
      'HOST: 0.0.0.0 is reachable from the network, and without MXWATCH_API_TOKEN anyone who can reach it can change domains and send notifications: set MXWATCH_API_TOKEN (16+ characters), or MXWATCH_INSECURE_NO_TOKEN=true to accept that',
    ],
    [{ MXWATCH_DB_DEBUG: 'loud' }, 'MXWATCH_DB_DEBUG: must be true or false, got "loud"'],
    [{ MXWATCH_DNSBL_RESOLVER_SHARED: 'maybe' }, 'MXWATCH_DNSBL_RESOLVER_SHARED: must be true, false or auto, got "maybe"'],
    [{ DATABASE_URL: 'postgres ://user:secret@db' }, 'DATABASE_URL: must be a postgresql: or postgres: URL'],
  ])('should reject %o with exactly one message', (env, message) => {
    expect(problems(() => loadConfig({ env, cwd: tmpdir() }))).toEqual([message]);
  });

  it('should never repeat a secret in a message', () => {
    const secrets = { MXWATCH_SPAMHAUS_DQS_KEY: 'leaky key 123', MXWATCH_API_TOKEN: 'tiny-secret', DATABASE_URL: 'mysql://u:pa55word@db' };
    const text = problems(() => loadConfig({ env: secrets, cwd: tmpdir() })).join('\n');
    for (const s of ['leaky key 123', 'tiny-secret', 'pa55word']) expect(text).not.toContain(s);
    const { env, cwd } = withFile('settings:\n  webhookSecret: [hmac-pa55]\n  apiToken: {value: tok-pa55}\n');
    const yaml = problems(() => loadConfig({ env, cwd }));
    expect(yaml).toEqual(['mxwatch.yml: settings.apiToken: must be a string', 'mxwatch.yml: settings.webhookSecret: must be a string']);
  });

  it('should collect every problem of a broken environment at once', () => {
    expect(problems(() => loadConfig({ env: { HOST: '0.0.0.0', MXWATCH_DNS_SERVER: 'x', MXWATCH_MAX_MX_HOSTS: '0', MXWATCH_SMTP_PORTS: '' }, cwd: tmpdir() }))).toHaveLength(4);
  });

  it('should let the environment win over an invalid YAML value without judging the file\'s value', () => {
    const { env, cwd } = withFile('settings:\n  checkInterval: often\n  dnsServers: []\n');
    const c = loadConfig({ env: { ...env, MXWATCH_CHECK_INTERVAL: '60', MXWATCH_DNS_SERVERS: '127.0.0.1:8053' }, cwd });
    expect(c.checkIntervalSeconds).toBe(60);
    expect(c.dns.servers).toEqual(['127.0.0.1:8053']);
  });

  it.each<[string | undefined, 'auto' | boolean]>([
    [undefined, 'auto'],
    ['auto', 'auto'],
    [' AUTO ', 'auto'],
    ['true', true],
    ['yes', true],
    ['false', false],
    ['0', false],
  ])('should read MXWATCH_DNSBL_RESOLVER_SHARED=%s as %s', (value, expected) => {
    const env = value === undefined ? {} : { MXWATCH_DNSBL_RESOLVER_SHARED: value };
    expect(loadConfig({ env, cwd: tmpdir() }).dnsblResolverShared).toBe(expected);
  });

  it('should read dnsblResolverShared from the YAML file, as a boolean or auto', () => {
    expect(loadConfig(withFile('settings:\n  dnsblResolverShared: true\n')).dnsblResolverShared).toBe(true);
    expect(loadConfig(withFile('settings:\n  dnsblResolverShared: auto\n')).dnsblResolverShared).toBe('auto');
    expect(problems(() => loadConfig(withFile('settings:\n  dnsblResolverShared: 1.5\n')))).toEqual(['mxwatch.yml: settings.dnsblResolverShared: must be true, false or auto, got 1.5']);
  });

  it('should read the new settings from the YAML file', () => {
    const { env, cwd } = withFile(
      [
        'settings:',
        '  dnsProtocol: udp',
        '  dnsServers: [127.0.0.53]',
        '  dnsblDnsServers: 127.0.0.1:5353',
        '  maxMxHosts: 4',
        '  manualQueue: 7',
        '  dnssecCanary: [example.org, fail.example.org]',
        '  uiAuth: open',
        'domains:',
        '  - name: example.com',
        '    dkimSelectors: [S1, 2024.Brand]',
      ].join('\n'),
    );
    const c = loadConfig({ env, cwd });
    expect(c.dns).toMatchObject({ servers: ['127.0.0.53'], protocol: 'udp' });
    expect(c.dnsblDns).toMatchObject({ servers: ['127.0.0.1:5353'], protocol: 'udp' });
    expect(c.limits).toMatchObject({ maxMxHosts: 4, manualQueue: 7 });
    expect(c.dnssecCanary).toEqual({ signed: 'example.org', broken: 'fail.example.org' });
    expect(c.domains?.[0]?.dkimSelectors).toEqual(['s1', '2024.brand']);
  });

  it.each<[string, string[], string]>([
    ['a misspelt setting', ['settings:', '  dnsServer: [127.0.0.1]'], 'mxwatch.yml: settings.dnsServer: unknown setting; did you mean dnsServers?'],
    ['a variable name used as a key', ['settings:', '  MXWATCH_CHECK_INTERVAL: 60'], 'mxwatch.yml: settings.MXWATCH_CHECK_INTERVAL: unknown setting; did you mean checkInterval?'],
    ['an empty list', ['settings:', '  dnsServers: []'], 'mxwatch.yml: settings.dnsServers: is empty: list at least one server, or unset it to use the default'],
    ['an empty zone list', ['settings:', '  dnsblZones: ""'], 'mxwatch.yml: settings.dnsblZones: is empty: list at least one zone, or unset it to use the default'],
    ['a port out of range in a list', ['settings:', '  smtpPorts: [25, 70000]'], 'mxwatch.yml: settings.smtpPorts: must be between 1 and 65535, got 70000'],
    ['a fractional number', ['settings:', '  maxAddresses: 2.5'], 'mxwatch.yml: settings.maxAddresses: must be a whole number, got 2.5'],
    ['a list where a number belongs', ['settings:', '  maxConnections: [1]'], 'mxwatch.yml: settings.maxConnections: must be a whole number, got [1]'],
    ['a bad EHLO name', ['settings:', '  ehloName: "a b"'], 'mxwatch.yml: settings.ehloName: must be a host name (mail.example.com) or an address literal ([192.0.2.1]), got "a b"'],
    ['a mapping for a list', ['settings:', '  dnsblDnsServers: {a: 1}'], 'mxwatch.yml: settings.dnsblDnsServers: must be a comma list or a YAML list, got {"a":1}'],
    ['settings as a list', ['settings: [1]'], 'mxwatch.yml: settings: must be a mapping'],
    ['a domains mapping', ['domains:', '  a: 1'], 'mxwatch.yml: domains: must be a list'],
    ['a number as a domain', ['domains:', '  - 42'], 'mxwatch.yml: domains[0]: must be a domain name or a mapping with name'],
    ['a domain without name', ['domains:', '  - intervalSeconds: 60'], 'mxwatch.yml: domains[0].name: name is required'],
    ['a numeric domain name', ['domains:', '  - name: 42'], 'mxwatch.yml: domains[0].name: name must be a domain name (a string)'],
    ['an IP as a domain', ['domains:', '  - 192.0.2.1'], 'mxwatch.yml: domains[0].name: "192.0.2.1" is not a valid domain name: it is an IP address; a domain name is needed (e.g. example.com)'],
    ['a fractional interval', ['domains:', '  - name: a.example', '    intervalSeconds: 60.5'], 'mxwatch.yml: domains[0].intervalSeconds: intervalSeconds must be a whole number of seconds'],
    ['a week and a second', ['domains:', '  - name: a.example', '    intervalSeconds: 604801'], 'mxwatch.yml: domains[0].intervalSeconds: intervalSeconds must be at most 604800 (a week)'],
    ['a bad submission host', ['domains:', '  - name: a.example', '    submissionHosts: [smtp_a.example]'], 'mxwatch.yml: domains[0].submissionHosts[0]: "smtp_a.example" is not a valid domain name: the label "smtp_a" contains "_", which host names cannot contain'],
    ['a repeated submission host', ['domains:', '  - name: a.example', '    submissionHosts: [s.a.example, s.a.example]'], "mxwatch.yml: domains[0].submissionHosts: All submissionHosts's elements must be unique"],
    ['a bad sending IP', ['domains:', '  - name: a.example', '    sendingIps: ["1.2.3"]'], 'mxwatch.yml: domains[0].sendingIps[0]: "1.2.3" is not an IPv4 or IPv6 address'],
    ['a bracketed sending IP', ['domains:', '  - name: a.example', '    sendingIps: ["[2001:db8::1]"]'], 'mxwatch.yml: domains[0].sendingIps[0]: "[2001:db8::1]" is not an IPv4 or IPv6 address'],
    ['a bad label name', ['domains:', '  - name: a.example', '    labels: {"team-name": x}'], 'mxwatch.yml: domains[0].labels: label name "team-name" must match ^[a-zA-Z_][a-zA-Z0-9_]{0,62}$'],
    ['a string for enabled', ['domains:', '  - name: a.example', '    enabled: "no"'], 'mxwatch.yml: domains[0].enabled: enabled must be true or false'],
    ['a selector with an underscore', ['domains:', '  - name: a.example', '    dkimSelectors: [s1, bad_sel]'], 'mxwatch.yml: domains[0].dkimSelectors[1]: "bad_sel" is not a DKIM selector: DNS labels of letters, digits and hyphens (s1, 2024.brand)'],
    ['a selector that is a name', ['domains:', '  - name: a.example', '    dkimSelectors: [s1._domainkey.a.example]'], 'mxwatch.yml: domains[0].dkimSelectors[0]: "s1._domainkey.a.example" is not a DKIM selector: DNS labels of letters, digits and hyphens (s1, 2024.brand)'],
    ['the same selector twice', ['domains:', '  - name: a.example', '    dkimSelectors: [S1, s1]'], "mxwatch.yml: domains[0].dkimSelectors: All dkimSelectors's elements must be unique"],
    ['a selector string', ['domains:', '  - name: a.example', '    dkimSelectors: s1'], 'mxwatch.yml: domains[0].dkimSelectors: dkimSelectors must be a list of DKIM selectors'],
    [
      'a relay password over plain text',
      ['notifications:', '  - {type: email, name: m, to: a@b.example, from: c@b.example, smtp: {host: relay, ignoreTLS: true, user: u, pass: p}}'],
      'mxwatch.yml: notifications[0].smtp.ignoreTLS: would send the relay password in clear text; set allowInsecureAuth: true only for a relay on a trusted network',
    ],
  ])('should reject a file with %s, with exactly one message', (_what, lines, message) => {
    const { env, cwd } = withFile(`${lines.join('\n')}\n`);
    expect(problems(() => loadConfig({ env, cwd }))).toEqual([message]);
  });
});
