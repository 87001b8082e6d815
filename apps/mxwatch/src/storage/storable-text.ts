/**
 * PostgreSQL refuses U+0000 in `text` and `jsonb` (22P05), and unpaired surrogates in `jsonb`.
 * Both can come from the network (a NUL is legal in a DNS label), and one such string must not
 * stop a run from being stored, or the domain silently stops being monitored.
 *
 * NUL is stored as U+2400 SYMBOL FOR NULL (so an operator sees where it was). A U+2400 or U+238B
 * that was really there is stored behind U+238B (an escape), which keeps the mapping reversible:
 * a finding's target read back with `fromStorableText` is the target the probe reported, so the
 * lifecycle still recognises it. Unpaired surrogates cannot come off the wire (decoders produce
 * U+FFFD) and become U+FFFD.
 */
const NUL_SYMBOL = '\u2400';
const ESCAPE = '\u238b';
const LONE_SURROGATE = /[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/g;

// eslint-disable-next-line no-control-regex
const NEEDS_WORK = /[\u0000\u2400\u238b\ud800-\udfff]/;

export function toStorableText(value: string): string {
  if (!NEEDS_WORK.test(value)) return value;
  return value
    .replace(LONE_SURROGATE, '\ufffd')
    .replace(/[\u2400\u238b]/g, (c) => ESCAPE + c)
    .replace(/\u0000/g, NUL_SYMBOL);
}

export function fromStorableText(value: string): string {
  if (!value.includes(NUL_SYMBOL) && !value.includes(ESCAPE)) return value;
  return value.replace(/\u238b([\u2400\u238b])|\u2400/g, (m, escaped: string | undefined) => escaped ?? '\u0000');
}

/**
 * Every string of a JSON-like value (object keys included) made storable; Dates and other leaves
 * are kept. Copy on write: an array or object none of whose strings needs work is returned as it
 * is (nearly always: a NUL off the wire is rare), so storing a run copies nothing, and the results
 * a process keeps for other domains' checks are not kept twice (bench/README.md).
 */
export function toStorable<T>(value: T): T {
  if (typeof value === 'string') return toStorableText(value) as T;
  if (Array.isArray(value)) {
    let out: unknown[] | undefined;
    for (let i = 0; i < value.length; i++) {
      const v: unknown = value[i];
      const c = toStorable(v);
      if (out === undefined && c !== v) out = value.slice(0, i);
      out?.push(c);
    }
    return (out ?? value) as T;
  }
  if (value !== null && typeof value === 'object' && Object.getPrototypeOf(value) === Object.prototype) {
    // for...in, not Object.entries: no array per object walked (every object of every result's
    // details, once per stored run). A plain object inherits no enumerable key from Object.prototype.
    const obj = value as Record<string, unknown>;
    let out: Record<string, unknown> | undefined;
    for (const k in obj) {
      const v = obj[k];
      const ck = toStorableText(k);
      const cv = toStorable(v);
      if (out === undefined && (ck !== k || cv !== v)) {
        out = {};
        for (const j in obj) {
          if (j === k) break;
          out[j] = obj[j];
        }
      }
      if (out !== undefined) out[ck] = cv;
    }
    return (out ?? value) as T;
  }
  return value;
}
