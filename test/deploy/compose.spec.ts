import { spawn } from 'node:child_process';
import { existsSync, readFileSync, statSync } from 'node:fs';
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
}
interface Compose { services: Record<string, Service>; volumes?: Record<string, unknown> }

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
    compose = readYaml<Compose>(path.join(root, 'docker-compose.yml'));
    services = compose.services;
  });

  it('should define the mxwatch, postgres, prometheus, alertmanager and grafana services', () => {
    expect(Object.keys(services).sort()).toEqual(['alertmanager', 'grafana', 'mxwatch', 'postgres', 'prometheus']);
  });

  it('should build mxwatch from a context and Dockerfile that exist', () => {
    const build = services.mxwatch.build;
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

  it('should start mxwatch only once postgres reports healthy with pg_isready', () => {
    const deps = services.mxwatch.depends_on;
    expect(Array.isArray(deps)).toBe(false);
    expect((deps as Record<string, { condition?: string }>).postgres?.condition).toBe('service_healthy');
    expect([services.postgres.healthcheck?.test].flat().join(' ')).toContain('pg_isready');
  });

  it('should mount the example mxwatch config where MXWATCH_CONFIG points', () => {
    const configPath = env(services.mxwatch).MXWATCH_CONFIG;
    const host = hostPathOf(services.mxwatch, configPath);
    expect(host).toBe(path.join(root, 'deploy/mxwatch.example.yml'));
    const config = readYaml<{ settings?: object; domains?: { name: string }[]; notifications?: { type: string; name: string }[] }>(host!);
    expect(config.domains?.map((d) => d.name)).toEqual(['example.com', 'example.org']);
    for (const n of config.notifications ?? []) expect(['webhook', 'slack', 'email']).toContain(n.type);
  });

  it('should mount a config that mxwatch itself accepts, with the environment compose gives it', async () => {
    const { loadConfig } = await import('../../apps/mxwatch/src/config/load-config.js');
    const environment = env(services.mxwatch);
    const config = loadConfig({ env: { ...environment, MXWATCH_CONFIG: hostPathOf(services.mxwatch, environment.MXWATCH_CONFIG) }, cwd: root });
    expect(config.domains?.map((d) => d.name)).toEqual(['example.com', 'example.org']);
    expect(config.notifications.length).toBeGreaterThan(0);
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
    expect(env(grafana).GF_SECURITY_ADMIN_PASSWORD).toMatch(/^\$\{GRAFANA_ADMIN_PASSWORD:-.+\}$/);
  });
});

describe('Dockerfile', () => {
  const stages = dockerfileStages();
  const final = stages.at(-1)!;
  const instr = (name: string) => final.instructions.filter((i) => i.toUpperCase().startsWith(`${name} `));

  it('should be a multi-stage build on node:20-bookworm-slim', () => {
    expect(stages.length).toBeGreaterThanOrEqual(2);
    for (const s of stages) expect(s.from).toMatch(/^FROM node:20-bookworm-slim\b/);
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
