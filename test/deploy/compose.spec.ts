import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { parse } from 'yaml';

// docker compose cannot run here (no Docker engine), so the compose file is checked by
// reading it: every reference it makes must point at something that exists and agrees.

const root = fileURLToPath(new URL('../../', import.meta.url));

interface LongVolume { type?: string; source?: string; target: string; read_only?: boolean }
interface LongPort { published?: string | number; target: number }
interface Service {
  image?: string;
  build?: string | { context?: string; dockerfile?: string };
  command?: string | string[];
  environment?: Record<string, string | number | boolean | null> | string[];
  volumes?: (string | LongVolume)[];
  ports?: (string | number | LongPort)[];
  depends_on?: string[] | Record<string, { condition?: string }>;
  healthcheck?: { test?: string | string[] };
  networks?: string[] | Record<string, { ipv4_address?: string } | null>;
}
interface Compose {
  services: Record<string, Service>;
  volumes?: Record<string, unknown>;
  networks?: Record<string, { ipam?: { config?: { subnet?: string }[] } }>;
}

/** What the operator must export before `docker compose up` (the file's `${VAR:?message}`). */
const OPERATOR_ENV = { MXWATCH_API_TOKEN: 'c0ffee'.repeat(8), GRAFANA_ADMIN_PASSWORD: 'not-admin-0123456789' };

/**
 * Compose's variable interpolation (`$$`, `$VAR`, `${VAR}`, `${VAR:-default}`, `${VAR-default}`,
 * `${VAR:?error}`, `${VAR?error}`), applied to every string of the parsed file as compose does.
 * Throws like compose when a required variable is missing.
 */
function interpolate<T>(value: T, vars: Record<string, string | undefined>): T {
  if (typeof value === 'string') {
    return value.replace(/\$\$|\$\{([A-Za-z_][A-Za-z0-9_]*)(?:(:?)([-?])((?:[^}])*))?\}|\$([A-Za-z_][A-Za-z0-9_]*)/g, (m, braced?: string, colon?: string, op?: string, arg?: string, bare?: string) => {
      if (m === '$$') return '$';
      const name = (braced ?? bare)!;
      const v = vars[name];
      const missing = v === undefined || (colon === ':' && v === '');
      if (op === '?' && missing) throw new Error(`required variable ${name} is missing a value: ${arg}`);
      if (op === '-' && missing) return arg ?? '';
      return v ?? '';
    }) as T;
  }
  if (Array.isArray(value)) return value.map((v) => interpolate(v, vars)) as T;
  if (value !== null && typeof value === 'object') {
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, interpolate(v, vars)])) as T;
  }
  return value;
}

/** The `${VAR:?...}` variables of the file: compose refuses to start without them. */
function requiredVariables(text: string): string[] {
  return [...new Set([...text.matchAll(/\$\{([A-Za-z_][A-Za-z0-9_]*):?\?/g)].map((m) => m[1]!))].sort();
}

interface Mount { source: string; target: string; readOnly: boolean; bind: boolean }

function mounts(service: Service): Mount[] {
  return (service.volumes ?? []).map((v) => {
    if (typeof v !== 'string') {
      return { source: v.source ?? '', target: v.target, readOnly: !!v.read_only, bind: v.type === 'bind' };
    }
    const [source, target, mode] = v.split(':');
    const bind = source.startsWith('.') || source.startsWith('/') || source.startsWith('~');
    return { source, target: target ?? source, readOnly: (mode ?? '').split(',').includes('ro'), bind };
  });
}

/** Where on the host a path inside the container comes from, through the service's bind mounts. */
function hostPathOf(service: Service, containerPath: string): string | undefined {
  const candidates = mounts(service)
    .filter((m) => m.bind && (containerPath === m.target || containerPath.startsWith(`${m.target}/`)))
    .sort((a, b) => b.target.length - a.target.length);
  const m = candidates[0];
  return m ? path.resolve(root, m.source, path.relative(m.target, containerPath)) : undefined;
}

function env(service: Service): Record<string, string> {
  const e = service.environment ?? {};
  if (Array.isArray(e)) {
    return Object.fromEntries(e.map((kv) => [kv.slice(0, kv.indexOf('=')), kv.slice(kv.indexOf('=') + 1)]));
  }
  return Object.fromEntries(Object.entries(e).map(([k, v]) => [k, v === null ? '' : String(v)]));
}

function ports(service: Service): { published: string; target: number }[] {
  return (service.ports ?? []).map((p) => {
    if (typeof p === 'object') return { published: String(p.published ?? ''), target: p.target };
    const parts = String(p).split(':');
    return { published: parts.length > 1 ? parts.slice(0, -1).join(':') : '', target: Number(parts.at(-1)) };
  });
}

function flag(service: Service, name: string): string | undefined {
  const args = Array.isArray(service.command) ? service.command : (service.command ?? '').split(/\s+/);
  const hit = args.find((a) => a.startsWith(`${name}=`));
  return hit?.slice(name.length + 1);
}

function readYaml<T>(file: string): T {
  return parse(readFileSync(file, 'utf8')) as T;
}

/** Dockerfile instructions of the last stage, continuation lines joined. */
function dockerfileStages(): { from: string; instructions: string[] }[] {
  const text = readFileSync(path.join(root, 'Dockerfile'), 'utf8').replace(/\\\n/g, ' ');
  const stages: { from: string; instructions: string[] }[] = [];
  for (const raw of text.split('\n')) {
    const line = raw.trim();
    if (!line || line.startsWith('#')) continue;
    if (/^FROM\s/i.test(line)) stages.push({ from: line, instructions: [] });
    else stages.at(-1)?.instructions.push(line);
  }
  return stages;
}

describe('docker-compose.yml', () => {
  let compose: Compose;
  let services: Record<string, Service>;

  beforeAll(() => {
    compose = interpolate(readYaml<Compose>(path.join(root, 'docker-compose.yml')), OPERATOR_ENV);
    services = compose.services;
  });

  it('should define the mxwatch, postgres, unbound, prometheus, alertmanager and grafana services, and redis and mxwatch-worker in the scale profile', () => {
    expect(Object.keys(services).sort()).toEqual(['alertmanager', 'grafana', 'mxwatch', 'mxwatch-worker', 'postgres', 'prometheus', 'redis', 'unbound']);
  });

  it('should run one process by default, and api + workers on Redis with the scale profile', async () => {
    const { loadConfig } = await import('../../apps/mxwatch/src/config/load-config.js');
    const profiles = (name: string) => (services[name] as Service & { profiles?: string[] }).profiles ?? [];
    expect(profiles('redis')).toEqual(['scale']);
    expect(profiles('mxwatch-worker')).toEqual(['scale']);
    expect(profiles('mxwatch')).toEqual([]);
    const load = (e: Record<string, string>) => loadConfig({ env: { ...e, MXWATCH_CONFIG: hostPathOf(services.mxwatch, e.MXWATCH_CONFIG) }, cwd: root });
    // Without the profile's variables the mxwatch service is today's single process.
    expect(load(env(services.mxwatch))).toMatchObject({ role: 'all', redisUrl: undefined });
    const scaled = interpolate(readYaml<Compose>(path.join(root, 'docker-compose.yml')), { ...OPERATOR_ENV, MXWATCH_ROLE: 'api', MXWATCH_REDIS_URL: 'redis://redis:6379' }).services;
    expect(load(env(scaled.mxwatch))).toMatchObject({ role: 'api', redisUrl: 'redis://redis:6379' });
    const worker = load(env(services['mxwatch-worker']!));
    expect(worker).toMatchObject({ role: 'worker', redisUrl: 'redis://redis:6379', databaseUrl: env(services.mxwatch).DATABASE_URL });
    // The same settings as the api replica, never a published port, and only after mxwatch migrated.
    expect(env(services['mxwatch-worker']!).MXWATCH_CONFIG).toBe(env(services.mxwatch).MXWATCH_CONFIG);
    expect(services['mxwatch-worker']!.ports ?? []).toEqual([]);
    expect((services['mxwatch-worker']!.depends_on as Record<string, { condition?: string }>).mxwatch?.condition).toBe('service_healthy');
    expect(new URL(worker.redisUrl!).hostname).toBe('redis');
  });

  it('should refuse to start without an API token and a Grafana password, and default neither', () => {
    const text = readFileSync(path.join(root, 'docker-compose.yml'), 'utf8');
    expect(requiredVariables(text)).toEqual(['GRAFANA_ADMIN_PASSWORD', 'MXWATCH_API_TOKEN']);
    const parsed = readYaml<Compose>(path.join(root, 'docker-compose.yml'));
    expect(() => interpolate(parsed, { ...OPERATOR_ENV, MXWATCH_API_TOKEN: undefined })).toThrow(/MXWATCH_API_TOKEN/);
    expect(() => interpolate(parsed, { ...OPERATOR_ENV, MXWATCH_API_TOKEN: '' })).toThrow(/MXWATCH_API_TOKEN/);
    expect(() => interpolate(parsed, { ...OPERATOR_ENV, GRAFANA_ADMIN_PASSWORD: undefined })).toThrow(/GRAFANA_ADMIN_PASSWORD/);
    expect(env(services.mxwatch).MXWATCH_API_TOKEN).toBe(OPERATOR_ENV.MXWATCH_API_TOKEN);
    expect(env(services.grafana).GF_SECURITY_ADMIN_PASSWORD).toBe(OPERATOR_ENV.GRAFANA_ADMIN_PASSWORD);
    expect(text).not.toMatch(/GRAFANA_ADMIN_PASSWORD:-|:-admin\b/);
  });

  it('should listen on every interface of the container, which mxwatch accepts only with the token', async () => {
    const { loadConfig } = await import('../../apps/mxwatch/src/config/load-config.js');
    const environment = env(services.mxwatch);
    expect(environment.HOST).toBe('0.0.0.0');
    const withConfig = { ...environment, MXWATCH_CONFIG: hostPathOf(services.mxwatch, environment.MXWATCH_CONFIG) };
    expect(loadConfig({ env: withConfig, cwd: root }).apiToken).toBe(OPERATOR_ENV.MXWATCH_API_TOKEN);
    expect(() => loadConfig({ env: { ...withConfig, MXWATCH_API_TOKEN: undefined }, cwd: root })).toThrow(/MXWATCH_API_TOKEN/);
  });

  it('should publish the unauthenticated Prometheus and Alertmanager on loopback only, and never postgres or unbound', () => {
    for (const name of ['prometheus', 'alertmanager']) {
      for (const p of ports(services[name])) expect(p.published, name).toMatch(/^127\.0\.0\.1:\d+$/);
    }
    expect(services.postgres.ports).toBeUndefined();
    expect(services.unbound.ports).toBeUndefined();
  });

  it('should run Prometheus without the lifecycle API (anyone reaching it could shut it down)', () => {
    const args = [services.prometheus.command ?? []].flat().join(' ');
    expect(args).toContain('--config.file=');
    expect(args).not.toContain('--web.enable-lifecycle');
  });

  it.each(['mxwatch', 'unbound'])('should build %s from a context and Dockerfile that exist', (name) => {
    const build = services[name]!.build;
    expect(build).toBeDefined();
    const context = path.resolve(root, typeof build === 'string' ? build : (build?.context ?? '.'));
    const dockerfile = path.resolve(context, typeof build === 'object' && build.dockerfile ? build.dockerfile : 'Dockerfile');
    expect(statSync(context).isDirectory()).toBe(true);
    expect(existsSync(dockerfile), dockerfile).toBe(true);
  });

  it('should bind-mount only host paths that exist', () => {
    const binds = Object.entries(services).flatMap(([name, s]) => mounts(s).filter((m) => m.bind).map((m) => ({ name, ...m })));
    expect(binds.length).toBeGreaterThan(0);
    for (const b of binds) {
      expect(existsSync(path.resolve(root, b.source)), `${b.name}: ${b.source}`).toBe(true);
      expect(b.readOnly, `${b.name}: ${b.source} should be mounted read-only`).toBe(true);
    }
  });

  it('should declare every named volume it uses and use every one it declares', () => {
    const used = new Set(Object.values(services).flatMap((s) => mounts(s).filter((m) => !m.bind).map((m) => m.source)));
    const declared = new Set(Object.keys(compose.volumes ?? {}));
    expect([...used].sort()).toEqual([...declared].sort());
  });

  it('should keep the state of every stateful service in a named volume', () => {
    const dataDirs: Record<string, string> = {
      mxwatch: '/data',
      postgres: '/var/lib/postgresql/data',
      prometheus: flag(services.prometheus, '--storage.tsdb.path') ?? '/prometheus',
      alertmanager: flag(services.alertmanager, '--storage.path') ?? '/alertmanager',
      grafana: '/var/lib/grafana',
    };
    for (const [name, dir] of Object.entries(dataDirs)) {
      const m = mounts(services[name]).find((v) => v.target === dir);
      expect(m && !m.bind, `${name} should mount a named volume at ${dir}`).toBe(true);
    }
  });

  it('should publish every host port at most once', () => {
    const published = Object.values(services).flatMap((s) => ports(s).map((p) => p.published)).filter(Boolean);
    expect(published.length).toBeGreaterThan(0);
    expect(new Set(published).size).toBe(published.length);
  });

  it('should point DATABASE_URL at the compose postgres service with its user, password and database', () => {
    const url = new URL(env(services.mxwatch).DATABASE_URL);
    const pg = env(services.postgres);
    expect(url.protocol).toMatch(/^postgres(ql)?:$/);
    expect(services[url.hostname], `service ${url.hostname}`).toBe(services.postgres);
    expect(url.port || '5432').toBe('5432');
    expect(decodeURIComponent(url.username)).toBe(pg.POSTGRES_USER);
    expect(decodeURIComponent(url.password)).toBe(pg.POSTGRES_PASSWORD);
    expect(url.pathname.slice(1)).toBe(pg.POSTGRES_DB ?? pg.POSTGRES_USER);
  });

  it('should start mxwatch only once postgres and unbound report healthy', () => {
    const deps = services.mxwatch.depends_on;
    expect(Array.isArray(deps)).toBe(false);
    expect((deps as Record<string, { condition?: string }>).postgres?.condition).toBe('service_healthy');
    expect((deps as Record<string, { condition?: string }>).unbound?.condition).toBe('service_healthy');
    expect([services.postgres.healthcheck?.test].flat().join(' ')).toContain('pg_isready');
    const unboundDockerfile = readFileSync(path.join(root, 'deploy/unbound/Dockerfile'), 'utf8');
    expect(unboundDockerfile).toMatch(/^HEALTHCHECK .*unbound-control", "status"/m);
  });

  it('should mount a minimal working config, with no example domains or channels, where MXWATCH_CONFIG points', () => {
    const configPath = env(services.mxwatch).MXWATCH_CONFIG;
    const host = hostPathOf(services.mxwatch, configPath);
    expect(host).toBe(path.join(root, 'deploy/mxwatch.yml'));
    const config = readYaml<{ settings?: object; domains?: unknown; notifications?: unknown }>(host!);
    expect(Object.keys(config)).toEqual(['settings']);
  });

  it('should mount a config that mxwatch itself accepts, with the environment compose gives it', async () => {
    const { loadConfig } = await import('../../apps/mxwatch/src/config/load-config.js');
    const environment = env(services.mxwatch);
    const config = loadConfig({ env: { ...environment, MXWATCH_CONFIG: hostPathOf(services.mxwatch, environment.MXWATCH_CONFIG) }, cwd: root });
    expect(config.domains ?? []).toEqual([]);
    expect(config.notifications).toEqual([]);
    expect(config.host).toBe('0.0.0.0');
  });

  it('should keep the reference config loadable, and say that the environment wins over it', async () => {
    const { loadConfig } = await import('../../apps/mxwatch/src/config/load-config.js');
    const file = path.join(root, 'deploy/mxwatch.example.yml');
    const text = readFileSync(file, 'utf8');
    expect(text).toMatch(/environment variable of the same setting WINS over\s*\n#\s*this file/);
    expect(text).not.toMatch(/ARCHITECTURE\.md|overrides the environment/);
    const config = loadConfig({ env: { MXWATCH_CONFIG: file, MXWATCH_CHECK_INTERVAL: '600' }, cwd: root });
    expect(config.domains?.map((d) => d.name)).toEqual(['example.com', 'example.org']);
    expect(config.checkIntervalSeconds).toBe(600);
  });

  it('should resolve through the stack\'s own validating unbound, for the domains and for the lists', async () => {
    const { loadConfig } = await import('../../apps/mxwatch/src/config/load-config.js');
    const { isKnownPublicResolver } = await import('../../apps/mxwatch/src/transport/dns/public-resolvers.js');
    const unboundNet = services.unbound.networks as Record<string, { ipv4_address?: string }>;
    const address = unboundNet.default?.ipv4_address;
    expect(address).toMatch(/^\d+\.\d+\.\d+\.\d+$/);
    const subnet = compose.networks?.default?.ipam?.config?.[0]?.subnet;
    expect(subnet).toBeDefined();
    const [net, bits] = subnet!.split('/');
    const toInt = (ip: string) => ip.split('.').reduce((n, o) => n * 256 + Number(o), 0);
    const mask = 2 ** 32 - 2 ** (32 - Number(bits));
    expect((toInt(address!) & mask) >>> 0, `${address} inside ${subnet}`).toBe((toInt(net!) & mask) >>> 0);

    const environment = env(services.mxwatch);
    const config = loadConfig({ env: { ...environment, MXWATCH_CONFIG: hostPathOf(services.mxwatch, environment.MXWATCH_CONFIG) }, cwd: root });
    expect(config.dns).toMatchObject({ servers: [address], protocol: 'udp' });
    expect(config.dnsblDns).toMatchObject({ servers: [address], protocol: 'udp' });
    expect(isKnownPublicResolver([address!])).toBeNull();
    expect(isKnownPublicResolver(['1.1.1.1'])).not.toBeNull();
  });

  it('should configure unbound as a validating resolver open to the compose network only, in a file unbound accepts', () => {
    const dockerfile = readFileSync(path.join(root, 'deploy/unbound/Dockerfile'), 'utf8');
    expect(dockerfile).toMatch(/^FROM debian:\S+/m);
    expect(dockerfile).toMatch(/apt-get install [^\n]*\bunbound\b[^\n]*\bdns-root-data\b/);
    expect(dockerfile).toMatch(/^COPY unbound\.conf \/etc\/unbound\/unbound\.conf$/m);
    const conf = readFileSync(path.join(root, 'deploy/unbound/unbound.conf'), 'utf8');
    const values = (key: string) => [...conf.matchAll(new RegExp(`^\\s*${key}:\\s*"?([^"\\n]+?)"?\\s*$`, 'gm'))].map((m) => m[1]);
    expect(values('trust-anchor-file')).toEqual(['/usr/share/dns/root.key']);
    expect(values('access-control')).toContain('0.0.0.0/0 refuse');
    expect(values('access-control')).not.toContain('0.0.0.0/0 allow');
    expect(values('access-control')).toContain('172.16.0.0/12 allow');
    expect(values('interface')).toContain('0.0.0.0');
    expect(values('control-interface')).toEqual(['127.0.0.1']);

    // unbound-checkconf (Debian's unbound) also insists that the root files exist: give it stand-ins.
    const dir = mkdtempSync(path.join(tmpdir(), 'mxwatch-unbound-'));
    try {
      writeFileSync(path.join(dir, 'root.hints'), '.  3600000  NS  a.root-servers.net.\na.root-servers.net.  3600000  A  198.41.0.4\n');
      writeFileSync(path.join(dir, 'root.key'), '.  IN  DS  20326 8 2 E06D44B80B8F1D39A95C0B0D7C65D08458E880409BBC683457104237C7F8EC8D\n');
      const local = conf.replaceAll('/usr/share/dns/', `${dir}/`).replace(/^(\s*username:).*$/m, '$1 ""').replace(/^(\s*directory:).*$/m, `$1 "${dir}"`);
      writeFileSync(path.join(dir, 'unbound.conf'), local);
      const r = spawnSync('unbound-checkconf', [path.join(dir, 'unbound.conf')], { encoding: 'utf8', timeout: 30_000 });
      if (r.error) throw new Error(`unbound-checkconf could not run (${r.error.message}): install Debian's unbound package`);
      expect(`${r.stdout}${r.stderr}`.trim()).toMatch(/no errors/);
      expect(r.status).toBe(0);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('should scrape mxwatch by its service name and container port', () => {
    const configFile = hostPathOf(services.prometheus, flag(services.prometheus, '--config.file')!);
    expect(configFile).toBe(path.join(root, 'deploy/prometheus/prometheus.yml'));
    const prom = readYaml<{
      scrape_configs: { job_name: string; metrics_path?: string; static_configs: { targets: string[] }[] }[];
      alerting: { alertmanagers: { static_configs: { targets: string[] }[] }[] };
      rule_files: string[];
    }>(configFile!);
    const job = prom.scrape_configs.find((j) => j.job_name === 'mxwatch');
    expect(job?.metrics_path ?? '/metrics').toBe('/metrics');
    const containerPorts = ports(services.mxwatch).map((p) => p.target);
    expect(containerPorts).toContain(3000);
    expect(job?.static_configs.flatMap((c) => c.targets)).toEqual([`mxwatch:${containerPorts[0]}`]);

    const amTargets = prom.alerting.alertmanagers.flatMap((a) => a.static_configs.flatMap((c) => c.targets));
    expect(amTargets).toEqual([`alertmanager:${ports(services.alertmanager)[0].target}`]);
    for (const rules of prom.rule_files) expect(existsSync(path.resolve(path.dirname(configFile!), rules)), rules).toBe(true);
  });

  it('should give Alertmanager its configuration file', () => {
    const file = hostPathOf(services.alertmanager, flag(services.alertmanager, '--config.file')!);
    expect(file).toBe(path.join(root, 'deploy/alertmanager/alertmanager.yml'));
  });

  it('should provision Grafana with the Prometheus service and the mounted dashboards folder', () => {
    const grafana = services.grafana;
    const dsFile = hostPathOf(grafana, '/etc/grafana/provisioning/datasources/prometheus.yml');
    expect(dsFile && existsSync(dsFile), 'datasource provisioning is mounted').toBe(true);
    const ds = readYaml<{ datasources: { uid: string; type: string; url: string }[] }>(dsFile!).datasources.find((d) => d.type === 'prometheus');
    expect(ds?.uid).toBe('prometheus');
    const dsUrl = new URL(ds!.url);
    expect(services[dsUrl.hostname]).toBe(services.prometheus);
    expect(ports(services.prometheus).map((p) => p.target)).toContain(Number(dsUrl.port));

    const providerFile = hostPathOf(grafana, '/etc/grafana/provisioning/dashboards/mxwatch.yml');
    expect(providerFile && existsSync(providerFile), 'dashboard provisioning is mounted').toBe(true);
    const provider = readYaml<{ providers: { type: string; options: { path: string } }[] }>(providerFile!).providers[0];
    const dashboardsDir = hostPathOf(grafana, provider.options.path);
    expect(dashboardsDir).toBe(path.join(root, 'deploy/grafana/dashboards'));
    expect(existsSync(path.join(dashboardsDir!, 'mxwatch.json'))).toBe(true);

    const home = env(grafana).GF_DASHBOARDS_DEFAULT_HOME_DASHBOARD_PATH;
    if (home) expect(existsSync(hostPathOf(grafana, home) ?? ''), home).toBe(true);
  });
});

describe('Dockerfile', () => {
  const stages = dockerfileStages();
  const final = stages.at(-1)!;
  const instr = (name: string) => final.instructions.filter((i) => i.toUpperCase().startsWith(`${name} `));

  it('should be a multi-stage build on the current Node LTS (24), while the project still supports Node 20.19', () => {
    expect(stages.length).toBeGreaterThanOrEqual(2);
    for (const s of stages) expect(s.from).toMatch(/^FROM node:24-bookworm-slim\b/);
    const pkg = JSON.parse(readFileSync(path.join(root, 'package.json'), 'utf8')) as { engines: { node: string } };
    expect(pkg.engines.node).toBe('>=20.19');
    expect(stages[0].from).toMatch(/\sAS\s+\w+/i);
    const build = stages[0].instructions.join('\n');
    expect(build).toMatch(/npm ci\b/);
    expect(build).toMatch(/npm run build\b/);
    expect(build).toMatch(/npm prune --omit=dev\b/);
    expect(instr('COPY').every((c) => c.includes('--from='))).toBe(true);
    for (const p of ['node_modules', 'dist', 'prisma', 'package.json']) {
      expect(instr('COPY').some((c) => c.includes(`/app/${p}`)), p).toBe(true);
    }
  });

  it('should run as a non-root user with /data as a volume', () => {
    const users = instr('USER');
    expect(users.length).toBeGreaterThan(0);
    expect(users.at(-1)).not.toMatch(/^USER\s+(root|0)(:|\s|$)/i);
    const text = final.instructions.join('\n');
    expect(text).toMatch(/NODE_ENV=production/);
    expect(text).toMatch(/MXWATCH_DATA_DIR=\/data/);
    expect(text).toMatch(/chown [^\n]*\/data/);
    expect(instr('VOLUME').join(' ')).toContain('/data');
    expect(instr('EXPOSE')).toEqual(['EXPOSE 3000']);
    expect(instr('CMD')).toEqual(['CMD ["node", "dist/main.js"]']);
  });

  it('should start the service with two malloc arenas, in the image and with npm start, unless the operator says otherwise', () => {
    expect(final.instructions.join('\n')).toMatch(/\bMALLOC_ARENA_MAX=2\b/);
    // The start scripts as npm runs them (sh -c), in a directory whose dist/main.js reports what it got.
    const scripts = (JSON.parse(readFileSync(path.join(root, 'package.json'), 'utf8')) as { scripts: Record<string, string> }).scripts;
    const dir = mkdtempSync(path.join(tmpdir(), 'mxwatch-start-'));
    try {
      writeFileSync(path.join(dir, 'main.js'), 'process.stdout.write(String(process.env.MALLOC_ARENA_MAX))');
      for (const name of ['start', 'start:prod']) {
        const script = scripts[name]!.replace('dist/main.js', 'main.js');
        const run = (extra: Record<string, string>) => spawnSync('sh', ['-c', script], { cwd: dir, env: { PATH: process.env.PATH, ...extra }, encoding: 'utf8' }).stdout;
        expect(run({}), name).toBe('2');
        expect(run({ MALLOC_ARENA_MAX: '8' }), name).toBe('8');
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  describe('HEALTHCHECK', () => {
    let server: Server | undefined;
    afterEach(async () => {
      await new Promise<void>((resolve) => (server ? server.close(() => resolve()) : resolve()));
      server = undefined;
    });

    const healthcheckArgv = (): string[] => {
      const hc = instr('HEALTHCHECK');
      expect(hc).toHaveLength(1);
      const json = hc[0].slice(hc[0].indexOf('CMD ') + 4);
      return JSON.parse(json) as string[];
    };

    /** Runs the HEALTHCHECK command as Docker would (exec form), against a port on loopback. */
    const runHealthcheck = (port: number): Promise<number | null> =>
      new Promise((resolve, reject) => {
        const [cmd, ...args] = healthcheckArgv();
        const child = spawn(cmd === 'node' ? process.execPath : cmd, args, { env: { ...process.env, PORT: String(port) }, stdio: 'ignore' });
        child.on('error', reject);
        child.on('exit', (code) => resolve(code));
      });

    const listen = async (status: number): Promise<{ port: number; paths: string[] }> => {
      const paths: string[] = [];
      server = createServer((req, res) => {
        paths.push(req.url ?? '');
        res.writeHead(status).end();
      });
      await new Promise<void>((resolve) => server!.listen(0, '127.0.0.1', resolve));
      return { port: (server.address() as AddressInfo).port, paths };
    };

    it('should succeed when /health/ready answers 200', async () => {
      const { port, paths } = await listen(200);
      expect(await runHealthcheck(port)).toBe(0);
      expect(paths).toEqual(['/health/ready']);
    });

    it('should fail when /health/ready answers 503', async () => {
      const { port } = await listen(503);
      expect(await runHealthcheck(port)).toBe(1);
    });

    it('should fail when nothing listens', async () => {
      const { port } = await listen(200);
      await new Promise<void>((resolve) => server!.close(() => resolve()));
      server = undefined;
      expect(await runHealthcheck(port)).toBe(1);
    });
  });

  it('should keep node_modules and .git out of the build context but not the build inputs', () => {
    const ignored = readFileSync(path.join(root, '.dockerignore'), 'utf8')
      .split('\n').map((l) => l.trim()).filter((l) => l && !l.startsWith('#'));
    expect(ignored).toEqual(expect.arrayContaining(['node_modules', '.git', 'dist']));
    for (const needed of ['package.json', 'package-lock.json', 'prisma', 'apps', 'tsconfig.json', 'tsconfig.build.json', 'prisma.config.ts']) {
      expect(ignored, needed).not.toContain(needed);
    }
  });
});

describe('Grafana dashboard', () => {
  interface Panel { id: number; title: string; targets?: { expr?: string }[]; panels?: Panel[] }
  const all = (ps: Panel[]): Panel[] => ps.flatMap((p) => [p, ...all(p.panels ?? [])]);
  const dashboard = JSON.parse(readFileSync(path.join(root, 'deploy/grafana/dashboards/mxwatch.json'), 'utf8')) as { panels: Panel[] };

  it('should list closed port 25 anywhere and closed 587/465 of submission hosts, not the normal closed 587/465 of MX hosts', () => {
    const panel = all(dashboard.panels).find((p) => p.title === 'Closed SMTP ports');
    const expr = panel?.targets?.[0]?.expr;
    expect(expr).toBeDefined();
    // promtool evaluates the panel's query over made-up series: no Prometheus server needed.
    const dir = mkdtempSync(path.join(tmpdir(), 'mxwatch-panel-'));
    try {
      const series = (metric: string, value: number) => ({ series: metric, values: `${value}x5` });
      const test = {
        rule_files: [],
        evaluation_interval: '1m',
        tests: [
          {
            interval: '1m',
            input_series: [
              series('mxwatch_domain_mx_info{domain="a.example",mx="mx.a.example",preference="10"}', 1),
              series('mxwatch_domain_mx_info{domain="b.example",mx="mx.b.example",preference="10"}', 1),
              series('mxwatch_smtp_port_open{host="mx.a.example",ip="192.0.2.1",port="25"}', 1),
              series('mxwatch_smtp_port_open{host="mx.a.example",ip="192.0.2.1",port="587"}', 0),
              series('mxwatch_smtp_port_open{host="mx.a.example",ip="192.0.2.1",port="465"}', 0),
              series('mxwatch_smtp_port_open{host="mx.b.example",ip="192.0.2.2",port="25"}', 0),
              series('mxwatch_smtp_port_open{host="smtp.a.example",ip="192.0.2.3",port="587"}', 0),
              series('mxwatch_smtp_port_open{host="smtp.a.example",ip="192.0.2.3",port="465"}', 1),
            ],
            promql_expr_test: [
              {
                expr,
                eval_time: '2m',
                exp_samples: [
                  { labels: 'mxwatch_smtp_port_open{host="mx.b.example",ip="192.0.2.2",port="25"}', value: 0 },
                  { labels: 'mxwatch_smtp_port_open{host="smtp.a.example",ip="192.0.2.3",port="587"}', value: 0 },
                ],
              },
            ],
          },
        ],
      };
      const file = path.join(dir, 'panel.test.yml');
      writeFileSync(file, JSON.stringify(test));
      const r = spawnSync('promtool', ['test', 'rules', file], { encoding: 'utf8', timeout: 60_000 });
      if (r.error) throw new Error(`promtool could not run (${r.error.message}): install Debian's prometheus package`);
      expect(`${r.stdout}${r.stderr}`, 'promtool output').toMatch(/SUCCESS/);
      expect(r.status).toBe(0);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
