/**
 * DANE for SMTP (RFC 7672), per MX host: the TLSA records at `_25._tcp.<mx>` and their DNSSEC
 * state, checked against the chain every MX address (IPv4 and IPv6) presented in this run's
 * `starttls` results. Across runs it remembers the key each address presented (in `ctx.memory`,
 * the database's, when the runtime lends it, else in a bounded map of this probe instance) to see
 * a rollover coming; a memory that fails makes the result untestable rather than a guess.
 */
import { performance } from 'node:perf_hooks';
import { BoundedMemory, type ProbeMemory } from '../probe-memory.js';
import { canaryNames } from '../dnssec/dnssec.probe.js';
import { type DnssecState, canaryVerdict, classify } from '../dnssec/dnssec-state.js';
import { type FindingRef, type PlanView, defineProbe, statusFromObservations } from '../probe-definition.js';
import type { ProbeContext, ProbeObservation, ProbeResult, ProbeStatus, TlsaRecord } from '../probe.types.js';
import { DANE_FINDINGS } from './dane.findings.js';
import { danePolicy } from './dane.policy.js';
import { type ChainElement, describeTlsa, malformation, matchesElement, recordMatchesChain, usable } from './dane-match.js';

export const DANE_PROBE = 'dane';

/** What one MX address showed on port 25 in this run's `starttls` result. */
export interface DaneAddressFact {
  ip: string;
  testable: boolean;
  offered: boolean;
  handshakeOk: boolean;
  nameMatch: boolean | null;
  /** Leaf first; null when the starttls result carries no chain. */
  chain: ChainElement[] | null;
}

export interface DaneSubject {
  host: string;
  addresses: string[];
  tls: DaneAddressFact[];
}

export interface DaneAddressResult {
  ip: string;
  /** false: no testable TLS facts for this address in this run. */
  checked: boolean;
  match: boolean | null;
  leafSpkiSha256: string | null;
  leafNotAfter: string | null;
  problem: string | null;
}

export type DaneDetails = {
  host: string;
  hostState: DnssecState | null;
  tlsaState: DnssecState | null;
  tlsa: TlsaRecord[];
  /** Signed, usable (usage 2/3, well formed) TLSA records exist: senders apply DANE to this host. */
  deployed: boolean;
  addresses: DaneAddressResult[];
  error: string | null;
};

export interface DaneProbeOptions {
  memory?: ProbeMemory;
}

const DAY_MS = 86_400_000;

/** The key an address presented, and the one before it when it changed. */
interface KeySeen {
  spki: string;
  previous: string | null;
  changedAt: number | null;
}

function target(host: string, ip: string): string {
  return `${host}[${ip}]:25`;
}

function hexOrNull(v: unknown): string | null {
  return typeof v === 'string' && /^[0-9a-fA-F]+$/.test(v) ? v.toLowerCase() : null;
}

function chainFrom(v: unknown): ChainElement[] | null {
  if (!Array.isArray(v) || v.length === 0) return null;
  const out: ChainElement[] = [];
  for (const c of v as Array<Record<string, unknown>>) {
    const certSha256 = hexOrNull(c.certSha256);
    const spkiSha256 = hexOrNull(c.spkiSha256);
    if (!certSha256 || !spkiSha256) return null;
    out.push({
      subject: String(c.subject ?? ''),
      issuer: String(c.issuer ?? ''),
      notBefore: String(c.notBefore ?? ''),
      notAfter: String(c.notAfter ?? ''),
      certSha256,
      certSha512: hexOrNull(c.certSha512) ?? '',
      spkiSha256,
      spkiSha512: hexOrNull(c.spkiSha512) ?? '',
    });
  }
  return out;
}

/** The host's state from its A and AAAA answers: one bogus spoils it; one secure answer (the other may be unanswerable) makes it secure. */
function hostState(a: DnssecState, aaaa: DnssecState): DnssecState {
  if (a === 'bogus' || aaaa === 'bogus') return 'bogus';
  if (a === 'secure' || aaaa === 'secure') return a === 'insecure' || aaaa === 'insecure' ? 'insecure' : 'secure';
  if (a === 'insecure' || aaaa === 'insecure') return 'insecure';
  return 'indeterminate';
}

/** One subject per MX host with its addresses (from `mx`) and the port-25 facts (from `starttls`). */
export function daneSubjects(plan: PlanView): DaneSubject[] {
  const mx = plan.results('mx')[0];
  if (!mx || mx.status === 'untestable') return [];
  const hosts = (mx.details as { hosts?: Array<{ host?: unknown; addresses?: unknown; ipLiteral?: unknown }> }).hosts ?? [];
  const starttls = plan.results('starttls');
  return hosts
    .filter((h) => typeof h.host === 'string' && h.ipLiteral !== true)
    .map((h) => {
      const host = (h.host as string).toLowerCase().replace(/\.$/, '');
      const addresses = Array.isArray(h.addresses) ? (h.addresses as unknown[]).filter((a): a is string => typeof a === 'string') : [];
      const tls: DaneAddressFact[] = [];
      for (const r of starttls) {
        const d = r.details as Record<string, unknown>;
        if (d.port !== 25 || typeof d.host !== 'string' || d.host.toLowerCase().replace(/\.$/, '') !== host || typeof d.ip !== 'string') continue;
        tls.push({
          ip: d.ip,
          testable: r.status !== 'untestable',
          offered: d.offered === true,
          handshakeOk: d.handshakeOk === true,
          nameMatch: typeof d.nameMatch === 'boolean' ? d.nameMatch : null,
          chain: chainFrom(d.chain),
        });
      }
      return { host, addresses, tls };
    });
}

export function createDaneProbe(options: DaneProbeOptions = {}) {
  const ownMemory = options.memory ?? new BoundedMemory();

  return defineProbe<DaneDetails, DaneSubject>({
    name: DANE_PROBE,
    scope: 'mx-host',
    title: 'DANE: TLSA records of each MX host against the chain every address presents',
    needs: ['mx', 'starttls'],
    findings: DANE_FINDINGS,
    policy: danePolicy,

    subjects: daneSubjects,

    async run(ctx: ProbeContext, subject: DaneSubject): Promise<ProbeResult<DaneDetails>> {
      const startedAt = ctx.now();
      const t0 = performance.now();
      const { host } = subject;
      const details: DaneDetails = { host, hostState: null, tlsaState: null, tlsa: [], deployed: false, addresses: [], error: null };
      const obs: ProbeObservation[] = [];
      const observe = (code: keyof typeof DANE_FINDINGS, t: string, params: ProbeObservation['params']) => obs.push({ code, target: t, params: { mx: host, ...params } });
      const finish = (status: ProbeStatus | null, reason?: string): ProbeResult<DaneDetails> => ({
        probe: DANE_PROBE as ProbeResult['probe'],
        target: host,
        status: status ?? statusFromObservations(obs, DANE_FINDINGS),
        ...(reason ? { reason } : {}),
        startedAt,
        durationMs: Math.round(performance.now() - t0),
        details,
        observations: obs,
      });

      // The dnssec probe raises the one monitor finding; here the verdict only makes results untestable.
      const canary = await canaryVerdict(ctx.resolver, canaryNames(ctx), { now: () => ctx.now().getTime() });
      if (canary.validating !== true) {
        details.error = canary.why;
        return finish('untestable', canary.validating === false ? 'resolver_not_validating' : 'resolver_canary_unanswered');
      }

      try {
        const [a, aaaa, tlsa] = await Promise.all([
          classify(ctx.resolver, host, 'A', ctx.signal),
          classify(ctx.resolver, host, 'AAAA', ctx.signal),
          classify(ctx.resolver, `_25._tcp.${host}`, 'TLSA', ctx.signal),
        ]);
        details.hostState = hostState(a.state, aaaa.state);
        details.tlsaState = tlsa.state;
        // A bogus host address is the dnssec probe's finding; DANE cannot be judged past it.
        if (details.hostState === 'bogus') return finish('untestable', 'mx_host_bogus');
        if (details.hostState === 'indeterminate') return finish('untestable', 'mx_host_indeterminate');
        if (tlsa.state === 'bogus') {
          observe('DANE_TLSA_BOGUS', host, { detail: tlsa.detail });
          return finish(null);
        }
        if (tlsa.state === 'indeterminate') {
          details.error = tlsa.detail;
          return finish('untestable', 'tlsa_indeterminate');
        }
        details.tlsa = tlsa.answer.ok ? tlsa.answer.records : [];
        if (details.tlsa.length === 0) return finish(null, 'no_tlsa');
        // RFC 7672 section 2.2: TLSA records are only used when both they and the host's addresses are secure.
        if (tlsa.state !== 'secure' || details.hostState !== 'secure') {
          observe('DANE_TLSA_UNSIGNED', host, {});
          return finish(null);
        }

        const malformed = details.tlsa.map((r) => ({ r, why: malformation(r) })).filter((m) => m.why !== null);
        if (malformed.length) observe('DANE_TLSA_MALFORMED', host, { problems: malformed.map((m) => `${describeTlsa(m.r)}: ${m.why}`).join('; ') });
        const pkix = [...new Set(details.tlsa.filter((r) => r.usage === 0 || r.usage === 1).map((r) => r.usage))];
        if (pkix.length) observe('DANE_PKIX_USAGE', host, { usages: pkix.join(', ') });
        const records = details.tlsa.filter(usable);
        details.deployed = records.length > 0;
        if (!details.deployed) return finish(null, 'no_usable_tlsa');

        const memory = ctx.memory ?? ownMemory;
        const memoryUnavailable = (e: unknown) => {
          obs.length = 0;
          details.error = `memory unavailable: ${e instanceof Error ? e.message : String(e)}`;
          return finish('untestable', 'memory_unavailable');
        };
        const now = ctx.now().getTime();
        const leaves: ChainElement[] = [];
        for (const ip of subject.addresses) {
          const fact = subject.tls.find((t) => t.ip === ip);
          const res: DaneAddressResult = { ip, checked: false, match: null, leafSpkiSha256: null, leafNotAfter: null, problem: null };
          details.addresses.push(res);
          if (!fact || !fact.testable) continue;
          if (!fact.offered || !fact.handshakeOk) {
            res.checked = true;
            res.match = false;
            res.problem = fact.offered ? 'the TLS handshake failed' : 'STARTTLS is not offered';
          } else if (fact.chain) {
            const leaf = fact.chain[0]!;
            leaves.push(leaf);
            res.checked = true;
            res.leafSpkiSha256 = leaf.spkiSha256;
            res.leafNotAfter = leaf.notAfter || null;
            res.match = records.some((r) => recordMatchesChain(r, fact.chain!, fact.nameMatch));
            if (!res.match) {
              const nameOnly = records.some((r) => r.usage === 2 && fact.chain!.slice(1).some((c) => matchesElement(r, c))) && fact.nameMatch !== true;
              res.problem = nameOnly ? `the DANE-TA anchor is in the chain but the certificate does not name ${host}` : `key ${leaf.spkiSha256.slice(0, 16)}... (certificate ${leaf.subject || 'without subject'}) matches none of ${records.length} usable record(s)`;
            }
          } else continue;
          if (res.match === false) observe('DANE_NO_MATCH', target(host, ip), { ip, problem: res.problem });

          if (res.leafSpkiSha256) {
            // Per address, not per domain: every domain sharing this MX must see the same change.
            const key = `dane:${target(host, ip)}`;
            let seen: KeySeen | null;
            try {
              seen = (await memory.get<KeySeen>(key)) ?? null;
            } catch (e) {
              return memoryUnavailable(e);
            }
            const leaf = fact.chain![0]!;
            const next: KeySeen =
              seen === null ? { spki: leaf.spkiSha256, previous: null, changedAt: null }
              : seen.spki === leaf.spkiSha256 ? seen
              : { spki: leaf.spkiSha256, previous: seen.spki, changedAt: now };
            const spareExists = records.some((r) => r.usage === 2 || !fact.chain!.some((c) => matchesElement(r, c)));
            const expiresMs = Date.parse(leaf.notAfter);
            const daysLeft = Number.isFinite(expiresMs) ? Math.floor((expiresMs - now) / DAY_MS) : null;
            if (next.previous !== null && next.changedAt !== null && !res.match) {
              observe('DANE_ROLLOVER_RISK', target(host, ip), { ip, why: `the presented key changed at ${new Date(next.changedAt).toISOString()} and no TLSA record matches the new one` });
            } else if (res.match && daysLeft !== null && daysLeft < ctx.settings.certWarnDays && !spareExists) {
              observe('DANE_ROLLOVER_RISK', target(host, ip), { ip, why: `the certificate expires in ${daysLeft} day(s) and no TLSA record matches any other key: the renewal will break DANE unless it keeps the key` });
            }
            if (next !== seen) {
              try {
                await memory.set(key, next);
              } catch (e) {
                return memoryUnavailable(e);
              }
            }
          }
        }

        // One record per key in use: every usable record is a DANE-EE bound to a key presented now.
        const checkedLeaves = leaves.length > 0;
        if (checkedLeaves && records.every((r) => r.usage === 3 && leaves.some((l) => matchesElement(r, l)))) observe('DANE_NO_ROLLOVER', host, {});
        return finish(null);
      } catch (e) {
        if (ctx.signal.aborted) return finish('untestable', 'aborted');
        throw e;
      }
    },

    metrics: {
      specs: [{ name: 'mxwatch_dane_match', help: '1 when a usable TLSA record of the MX host matches the chain this address presents, 0 when none does.', type: 'gauge', labelNames: ['host', 'ip', 'port'] }],
      series(result) {
        if (result.status === 'untestable') return 'keep';
        return result.details.addresses
          .filter((a) => a.checked && a.match !== null)
          .map((a) => ({ metric: 'mxwatch_dane_match', labels: { host: result.details.host, ip: a.ip, port: '25' }, value: a.match ? 1 : 0, owner: 'host' as const }));
      },
    },

    covers(finding: FindingRef, results: readonly ProbeResult[]): boolean | undefined {
      if (finding.code !== 'DANE_NO_MATCH' && finding.code !== 'DANE_ROLLOVER_RISK') return undefined;
      const m = /^(.*)\[(.*)\]:25$/.exec(finding.target);
      if (!m) return undefined;
      const r = results.find((x) => x.probe === (DANE_PROBE as string) && x.target === m[1]);
      if (!r) return undefined;
      if (r.status === 'untestable') return false;
      const d = r.details as DaneDetails;
      if (!d.deployed) return true;
      const a = d.addresses.find((x) => x.ip === m[2]);
      return a ? a.checked : true;
    },
  });
}

export const daneProbe = createDaneProbe();
