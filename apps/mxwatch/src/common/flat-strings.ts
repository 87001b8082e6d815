/**
 * Strings kept for long, as one run of characters. V8 builds a string made by `+` or a template
 * literal as a rope: a 32-byte node per concatenation holding its two parts, the parts often
 * strings of their own (a number's digits, a separator). Kept in a cache or a series, a rope of a
 * few parts costs three to four times its characters (400,000 `host[ip]:port`-like targets: 118 MB
 * as ropes, 35 MB flat; a heap snapshot at the end of a 10,000-domain cycle held 176,000 rope
 * nodes, 5.6 MB of nodes alone). Reading a character of a rope makes V8 flatten it in place (the
 * parts are freed), and the next young-generation collection drops the node itself when the rope
 * is still young, so a string flattened where it is made costs its characters only. No value
 * changes: this only decides how V8 holds them.
 */
export function flat<S extends string>(s: S): S {
  if (s.length > 1) s.charCodeAt(0);
  return s;
}

/**
 * Flattens (`flat`) every string in `value` (objects, arrays, Map keys and values, Set members),
 * visiting at most `maxNodes` values: for results held for long (shared work, cached answers).
 */
export function flattenStrings(value: unknown, maxNodes = 20_000): void {
  let nodes = 0;
  const seen = new Set<object>();
  const stack: unknown[] = [value];
  while (stack.length > 0 && nodes++ < maxNodes) {
    const v = stack.pop();
    if (typeof v === 'string') {
      if (v.length > 1) v.charCodeAt(0);
    } else if (v !== null && typeof v === 'object') {
      if (seen.has(v) || ArrayBuffer.isView(v) || v instanceof Date || v instanceof Promise) continue;
      seen.add(v);
      if (v instanceof Map) for (const [k, x] of v) stack.push(k, x);
      else if (v instanceof Set) for (const x of v) stack.push(x);
      else if (Array.isArray(v)) for (const x of v) stack.push(x);
      else for (const k of Object.keys(v)) stack.push((v as Record<string, unknown>)[k]);
    }
  }
}
