import { describe, expect, it } from 'vitest';
import { memoryDefaults } from './memory-defaults.js';

describe(memoryDefaults.name, () => {
  it('should bound heap growth, and keep Prisma\'s WebAssembly on the baseline compiler with PostgreSQL', () => {
    expect(memoryDefaults({ execArgv: [], nodeOptions: undefined, postgres: true })).toEqual(['--heap-growing-percent=30', '--liftoff-only']);
  });

  it('should leave WebAssembly tiering alone with the embedded database, whose PostgreSQL runs in WebAssembly', () => {
    expect(memoryDefaults({ execArgv: [], nodeOptions: undefined, postgres: false })).toEqual(['--heap-growing-percent=30']);
  });

  it('should let a flag the operator gave win, whatever its spelling or source', () => {
    expect(memoryDefaults({ execArgv: ['--heap_growing_percent=20'], nodeOptions: undefined, postgres: true })).toEqual(['--liftoff-only']);
    expect(memoryDefaults({ execArgv: [], nodeOptions: '--max-old-space-size=512 --no-liftoff-only', postgres: true })).toEqual(['--heap-growing-percent=30']);
  });
});
