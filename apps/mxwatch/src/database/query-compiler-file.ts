import { readFile } from 'node:fs/promises';
import { createRequire } from 'node:module';

/**
 * The module the generated client imports its query compiler from (schema.prisma: provider
 * postgresql, compilerBuild "small"): `export { wasm }`, the WebAssembly in base64. The spec holds
 * the generated client to this name.
 */
export const QUERY_COMPILER_BASE64_MODULE = '@prisma/client/runtime/query_compiler_small_bg.postgresql.wasm-base64.mjs';

/** A `WebAssembly.Module` (the build's TypeScript lib does not declare WebAssembly). */
type WasmModule = object;

interface CompilerWasm {
  getQueryCompilerWasmModule: () => Promise<WasmModule>;
}

/** Compiles the query compiler from the module's file, without importing the module. */
export async function compileQueryCompilerFromFile(): Promise<WasmModule> {
  // Resolved as require() would (the package maps the file for both), which works in every loader.
  const file = createRequire(import.meta.url).resolve(QUERY_COMPILER_BASE64_MODULE);
  const source = await readFile(file, 'utf8');
  const base64 = /\bwasm\s*=\s*"([A-Za-z0-9+/=]+)"/.exec(source)?.[1];
  if (!base64) throw new Error(`${file} holds no base64 WebAssembly where Prisma's query compiler is expected`);
  const { Module } = (globalThis as unknown as { WebAssembly: { Module: new (bytes: Uint8Array) => WasmModule } }).WebAssembly;
  return new Module(Buffer.from(base64, 'base64'));
}

/**
 * Makes a Prisma client load its query compiler from the file instead of importing the module
 * that holds it: an ES module stays loaded for the life of the process, and with it its source
 * and the base64 string, 4.4 MB of heap in every process for a module compiled once at start.
 * Read from the file, both are garbage once compiled. The client's engine configuration is not a
 * public API: when it is not where this expects it, nothing changes (the spec notices it).
 * Returns whether the loader was replaced. Call before the client's first query.
 */
export function loadQueryCompilerFromFile(prisma: object): boolean {
  const wasm = (prisma as { _engineConfig?: { compilerWasm?: Partial<CompilerWasm> } })._engineConfig?.compilerWasm;
  if (!wasm || typeof wasm.getQueryCompilerWasmModule !== 'function') return false;
  wasm.getQueryCompilerWasmModule = compileQueryCompilerFromFile;
  return true;
}
