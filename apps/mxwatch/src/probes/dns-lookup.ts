import { DNS_INCONCLUSIVE_ERRORS, type DnsErrorKind } from '../transport/transport.types.js';
import type { DnsAnswer, DnsRecordType, ProbeContext } from './probe.types.js';

/** A lookup the verdict needs answered in a way no verdict can be drawn from (our path, a CNAME loop). */
export class InconclusiveDnsError extends Error {
  constructor(
    readonly kind: DnsErrorKind,
    message: string,
  ) {
    super(message);
  }
}

/** Asks the domain resolver; an inconclusive answer is thrown, so a probe can stop and say `untestable`. */
export async function resolveConclusive<T extends DnsRecordType>(ctx: ProbeContext, name: string, type: T): Promise<DnsAnswer<T>> {
  const answer = await ctx.resolver.resolve(name, type, { signal: ctx.signal });
  if (!answer.ok && DNS_INCONCLUSIVE_ERRORS.has(answer.error)) throw new InconclusiveDnsError(answer.error, `${type} lookup of ${name} failed: ${answer.cause}`);
  return answer;
}

/**
 * Why a probe that met `err` could not test (an inconclusive lookup, or the check's deadline), as
 * the result's reason and error; null when `err` is a bug to rethrow.
 */
export function untestableCause(err: unknown, ctx: ProbeContext): { reason: string; error: string } | null {
  if (err instanceof InconclusiveDnsError) return { reason: `dns_${err.kind}`, error: err.message };
  if (ctx.signal.aborted) return { reason: 'deadline_exceeded', error: 'the check deadline passed before DNS answered' };
  return null;
}
