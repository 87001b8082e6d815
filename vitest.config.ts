import { availableParallelism } from 'node:os';
import swc from 'unplugin-swc';
import { defineConfig } from 'vitest/config';

/**
 * Three tiers, all run by `npm test`:
 * - unit (`*.spec.ts`): no server at all; runs anywhere in well under a minute.
 * - medium (`*.medium-spec.ts`): real PostgreSQL, PGlite, Redis or a spawned unbound; the global
 *   setup migrates one PostgreSQL database that every suite copies.
 * - e2e (`test/e2e/*.e2e-spec.ts`): the built service over HTTP on the fake internet, one file at a time.
 */
// SWC instead of esbuild: Nest's constructor injection needs emitted decorator metadata.
export default defineConfig({
  plugins: [swc.vite({ module: { type: 'es6' }, jsc: { target: 'es2022', transform: { decoratorMetadata: true, legacyDecorator: true } } })],
  test: {
    pool: 'forks',
    testTimeout: 30_000,
    hookTimeout: 120_000,
    projects: [
      {
        extends: true,
        // Both cores: the default leaves one idle on a 2-core machine (82 s instead of 49 s).
        test: { name: 'unit', include: ['apps/**/*.spec.ts', 'test/**/*.spec.ts', 'bench/**/*.spec.ts'], maxWorkers: Math.max(2, availableParallelism()), sequence: { groupOrder: 0 } },
      },
      {
        extends: true,
        test: {
          name: 'medium',
          // Projects with their own worker counts run as ordered groups: unit, then medium, then e2e.
          sequence: { groupOrder: 1 },
          include: ['apps/**/*.medium-spec.ts', 'test/**/*.medium-spec.ts', 'bench/**/*.medium-spec.ts'],
          globalSetup: ['test/medium-setup.ts'],
        },
      },
      {
        extends: true,
        test: {
          name: 'e2e',
          sequence: { groupOrder: 2 },
          include: ['test/**/*.e2e-spec.ts'],
          globalSetup: ['test/e2e/global-setup.ts'],
          testTimeout: 90_000,
          fileParallelism: false,
        },
      },
    ],
  },
});
