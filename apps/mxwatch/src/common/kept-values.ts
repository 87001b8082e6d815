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
 * About how many bytes of heap a value takes: strings by their length, objects, arrays, maps and
 * sets by their slots, byte arrays by their length; shared references counted once. It bounds a
 * cache, it does not account: within a factor of two of a heap snapshot's retained size for probe
 * results, and it stops counting after `maxNodes` values. With `flatten`, every string it visits
 * is also made flat (`flat`): a value measured to be kept is walked once, not twice.
 */
export function approximateBytes(value: unknown, maxNodes = 20_000, options: { flatten?: boolean } = {}): number {
  const flatten = options.flatten === true;
  let bytes = 0;
  let nodes = 0;
  const seen = new Set<object>();
  const stack: unknown[] = [value];
  while (stack.length > 0 && nodes++ < maxNodes) {
    const v = stack.pop();
    if (typeof v === 'string') {
      bytes += 16 + v.length;
      if (flatten && v.length > 1) v.charCodeAt(0);
    } else if (typeof v === 'number' || typeof v === 'bigint') bytes += 16;
    else if (v !== null && typeof v === 'object') {
      if (seen.has(v)) continue;
      seen.add(v);
      if (v instanceof Date) bytes += 48;
      else if (ArrayBuffer.isView(v)) bytes += 64 + v.byteLength;
      else if (v instanceof Map) {
        bytes += 64 + 24 * v.size;
        for (const [k, x] of v) stack.push(k, x);
      } else if (v instanceof Set) {
        bytes += 64 + 16 * v.size;
        for (const x of v) stack.push(x);
      } else if (Array.isArray(v)) {
        bytes += 32 + 8 * v.length;
        for (const x of v) stack.push(x);
      } else if (v instanceof Promise) bytes += 48;
      else {
        const keys = Object.keys(v);
        bytes += 32 + 8 * keys.length;
        for (const k of keys) stack.push((v as Record<string, unknown>)[k]);
      }
    }
  }
  return bytes;
}

/**
 * Flattens (`flat`) every string in `value` (objects, arrays, Map keys and values, Set members),
 * visiting at most `maxNodes` values: for values held for long (cached answers).
 */
export function flattenStrings(value: unknown, maxNodes = 20_000): void {
  approximateBytes(value, maxNodes, { flatten: true });
}
