import type { DnsAnswer, ProbeContext } from '../probe.types.js';

export interface SubmissionHost {
  host: string;
  ports: number[];
  /** `declared` wins when a host is both declared and published in SRV: the operator asked for it. */
  source: 'declared' | 'srv';
}

export interface SubmissionDiscovery {
  hosts: SubmissionHost[];
  /** DNS failures (not absences) while looking up the SRV records, for humans. */
  errors: string[];
}

/** RFC 6186 services and the port each one means when a host is declared without SRV. */
const SERVICES = [
  { label: '_submission._tcp', port: 587 },
  { label: '_submissions._tcp', port: 465 },
] as const;

function normaliseHost(name: string): string {
  return name.trim().toLowerCase().replace(/\.$/, '');
}

/**
 * Finds the submission hosts of a domain: the declared ones (probed on 587 and 465, as far as
 * MXWATCH_SMTP_PORTS includes them) plus those published in `_submission._tcp` /
 * `_submissions._tcp` SRV records with the port the record gives. A lone SRV target "." means
 * the service is explicitly not offered (RFC 2782, RFC 6186 section 3.4). Never throws for DNS
 * conditions: NXDOMAIN/NODATA are absences, other failures are listed in `errors`.
 */
export async function discoverSubmissionHosts(ctx: ProbeContext, domain: string, declared: string[]): Promise<SubmissionDiscovery> {
  const zone = normaliseHost(domain);
  const byHost = new Map<string, { ports: Set<number>; source: 'declared' | 'srv' }>();
  const errors: string[] = [];
  const declaredPorts = SERVICES.map((s) => s.port).filter((p) => ctx.settings.smtpPorts.includes(p));

  for (const raw of declared) {
    const host = normaliseHost(raw);
    if (!host) continue;
    const entry = byHost.get(host) ?? { ports: new Set<number>(), source: 'declared' as const };
    for (const p of declaredPorts) entry.ports.add(p);
    byHost.set(host, entry);
  }

  const answers = await Promise.all(
    SERVICES.map(async (service) => {
      const name = `${service.label}.${zone}`;
      try {
        return { name, answer: await ctx.resolver.resolve(name, 'SRV', { signal: ctx.signal }) };
      } catch (e) {
        return { name, answer: null as DnsAnswer<'SRV'> | null, failure: e instanceof Error ? e.message : String(e) };
      }
    }),
  );

  for (const { name, answer, ...rest } of answers) {
    if (!answer) {
      errors.push(`${name} SRV: ${'failure' in rest ? rest.failure : 'lookup failed'}`);
      continue;
    }
    if (!answer.ok) {
      if (answer.error !== 'nxdomain' && answer.error !== 'nodata') errors.push(`${name} SRV: ${answer.error} (${answer.cause})`);
      continue;
    }
    const records = [...answer.records].sort((a, b) => a.priority - b.priority || b.weight - a.weight);
    if (records.length === 1 && normaliseHost(records[0]!.name) === '') continue;
    for (const r of records) {
      const host = normaliseHost(r.name);
      if (!host) continue;
      if (!Number.isInteger(r.port) || r.port < 1 || r.port > 65535) {
        errors.push(`${name} SRV: target ${host} has invalid port ${r.port}`);
        continue;
      }
      const entry = byHost.get(host) ?? { ports: new Set<number>(), source: 'srv' as const };
      entry.ports.add(r.port);
      byHost.set(host, entry);
    }
  }

  const hosts = [...byHost]
    .map(([host, e]) => ({ host, ports: [...e.ports].sort((a, b) => a - b), source: e.source }))
    .filter((h) => h.ports.length > 0);
  return { hosts, errors };
}
