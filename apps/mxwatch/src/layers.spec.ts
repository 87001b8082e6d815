import { readdirSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const SRC = path.dirname(fileURLToPath(import.meta.url));

/**
 * Which folders each folder may import from: layers point down only (docs/architecture.md,
 * "Layers"). Transport knows nothing of probes; probes know nothing of findings, the runner or
 * metrics (their codes and metrics live in their own definitions); config knows no feature.
 */
const ALLOWED: Record<string, readonly string[]> = {
  common: ['common'],
  generated: ['generated'],
  transport: ['transport', 'common'],
  config: ['config', 'transport', 'common'],
  database: ['database', 'config', 'common', 'generated'],
  probes: ['probes', 'transport', 'common'],
  findings: ['findings', 'probes', 'transport', 'common'],
  storage: ['storage', 'database', 'findings', 'probes', 'transport', 'config', 'common', 'generated'],
  runtime: ['runtime', 'storage', 'database', 'findings', 'probes', 'transport', 'config', 'common', 'generated'],
};
/** The top: may use everything below, and each other. */
const TOP = ['api', 'metrics', 'notifications', 'pages', 'cli', '.'];

function sources(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const full = path.join(dir, name);
    if (statSync(full).isDirectory()) return name === 'generated' ? [] : sources(full);
    return /\.ts$/.test(name) && !/\.(spec|medium-spec|e2e-spec|fixture)\.ts$/.test(name) ? [full] : [];
  });
}

const layerOf = (file: string) => {
  const rel = path.relative(SRC, file);
  return rel.includes(path.sep) ? rel.split(path.sep)[0]! : '.';
};

/** Every relative import of the built code (type-only imports included: they couple the layers too). */
function violations(): string[] {
  const out: string[] = [];
  for (const file of sources(SRC)) {
    const from = layerOf(file);
    if (TOP.includes(from)) continue;
    const allowed = ALLOWED[from];
    const text = readFileSync(file, 'utf8');
    for (const m of text.matchAll(/(?:from|import)\s*\(?\s*['"](\.{1,2}\/[^'"]+)['"]/g)) {
      const target = path.resolve(path.dirname(file), m[1]!);
      const to = layerOf(target);
      if (!allowed) out.push(`${path.relative(SRC, file)}: folder ${from} has no layer (add it to ALLOWED)`);
      else if (!allowed.includes(to)) out.push(`${path.relative(SRC, file)} -> ${path.relative(SRC, target)} (${from} may not import ${to})`);
    }
  }
  return out;
}

describe('layers', () => {
  it('should only import downwards: transport < probes < findings < storage < runtime < api/metrics/notifications/pages/cli', () => {
    expect(violations()).toEqual([]);
  });

  it('should name no probe in the runner, the findings rules, the metrics service or the config loader', () => {
    const generic = ['runtime/domain-check.ts', 'runtime/check-runner.service.ts', 'findings/findings.rules.ts', 'findings/finding-catalog.ts', 'metrics/metrics.service.ts', 'metrics/metrics.ts'];
    const named: string[] = [];
    for (const rel of generic) {
      const text = readFileSync(path.join(SRC, rel), 'utf8').replace(/\/\*[\s\S]*?\*\/|\/\/.*$/gm, '');
      for (const probe of ['mx', 'smtp', 'starttls', 'dnsbl', 'spf', 'dmarc', 'dkim', 'ptr', 'bimi', 'mta-sts', 'tls-rpt', 'dnssec', 'dane']) {
        if (new RegExp(`['"\`]${probe}['"\`]`).test(text) || text.includes(`probes/${probe}/`)) named.push(`${rel} names ${probe}`);
      }
    }
    expect(named).toEqual([]);
  });

  /** The packages `main.ts` reaches through static imports (not `import type`, not `import()`), each with the file that imports it. */
  function staticPackages(): string[] {
    const seen = new Set<string>();
    const reached: string[] = [];
    const visit = (file: string) => {
      if (seen.has(file)) return;
      seen.add(file);
      const text = readFileSync(file, 'utf8');
      // Static imports and re-exports that stay in the built code (not `import type`, not `import()`).
      for (const m of text.matchAll(/^\s*(?:import|export)\s+(?!type\b)(?:[^'";]*?\sfrom\s+)?['"]([^'"]+)['"]/gm)) {
        const spec = m[1]!;
        if (spec.startsWith('.')) visit(path.resolve(path.dirname(file), spec.replace(/\.js$/, '.ts')));
        else reached.push(`${path.relative(SRC, file)} imports ${spec}`);
      }
    };
    visit(path.join(SRC, 'main.ts'));
    expect(seen.size).toBeGreaterThan(50);
    return reached;
  }
  const importing = (reached: string[], packages: string[]) => reached.filter((r) => packages.some((p) => r.endsWith(` imports ${p}`) || r.includes(` imports ${p}/`)));

  it('should load no OpenAPI or DTO-validation code in a worker: main.ts reaches it only through import()', () => {
    // A worker serves health and metrics only; these packages and their ~900 modules took 17 MB of its RSS.
    const reached = staticPackages();
    expect(reached.length).toBeGreaterThan(10);
    expect(importing(reached, ['@nestjs/swagger', 'class-validator', 'class-transformer'])).toEqual([]);
  });

  it('should load neither Redis code without MXWATCH_REDIS_URL, nor PGlite on PostgreSQL, nor nodemailer before an email is sent: main.ts reaches them only through import()', () => {
    // BullMQ with ioredis took ~7 MB of RSS, PGlite ~5 MB and nodemailer ~2 MB of heap in a process that does not use them.
    expect(importing(staticPackages(), ['bullmq', '@nestjs/bullmq', 'ioredis', '@electric-sql/pglite', 'pglite-prisma-adapter', 'nodemailer'])).toEqual([]);
  });
});
