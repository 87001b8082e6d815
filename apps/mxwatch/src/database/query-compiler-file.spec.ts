import { readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { PrismaPg } from '@prisma/adapter-pg';
import pg from 'pg';
import { describe, expect, it } from 'vitest';
import { PrismaClient } from '../generated/prisma/client.js';
import { compileQueryCompilerFromFile, loadQueryCompilerFromFile, QUERY_COMPILER_BASE64_MODULE } from './query-compiler-file.js';

const HERE = path.dirname(fileURLToPath(import.meta.url));
const shape = (m: object) => {
  const W = (globalThis as unknown as { WebAssembly: { Module: { exports(m: object): unknown[]; imports(m: object): unknown[] } } }).WebAssembly.Module;
  return { exports: W.exports(m), imports: W.imports(m) };
};

describe('the query compiler read from its file', () => {
  it('should be the module the generated client imports', () => {
    const generated = readFileSync(path.join(HERE, '../generated/prisma/internal/class.ts'), 'utf8');
    expect(generated).toContain(`import("${QUERY_COMPILER_BASE64_MODULE}")`);
  });

  it('should compile to the same WebAssembly as the base64 module decoded', async () => {
    const { wasm } = (await import(QUERY_COMPILER_BASE64_MODULE)) as { wasm: string };
    const W = (globalThis as unknown as { WebAssembly: { Module: new (b: Uint8Array) => object } }).WebAssembly;
    const fromFile = shape(await compileQueryCompilerFromFile());
    expect(fromFile.exports.length).toBeGreaterThan(3);
    expect(fromFile).toEqual(shape(new W.Module(Buffer.from(wasm, 'base64'))));
  });

  it("should replace the loader of this Prisma version's client (its engine configuration is not a public API)", async () => {
    const pool = new pg.Pool({ connectionString: 'postgresql://nobody@127.0.0.1:1/none' });
    const prisma = new PrismaClient({ adapter: new PrismaPg(pool) });
    try {
      expect(loadQueryCompilerFromFile(prisma)).toBe(true);
      expect((prisma as unknown as { _engineConfig: { compilerWasm: { getQueryCompilerWasmModule: unknown } } })._engineConfig.compilerWasm.getQueryCompilerWasmModule).toBe(compileQueryCompilerFromFile);
      expect(loadQueryCompilerFromFile({})).toBe(false);
    } finally {
      await pool.end();
    }
  });
});
