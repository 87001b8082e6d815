/**
 * MTA-STS (RFC 8461): the `_mta-sts` TXT record, the policy served over HTTPS, whether it covers
 * every MX, whether every MX passes the TLS checks enforcing senders make (from this run's
 * `starttls` results), and, across runs, what senders may still hold in their caches.
 *
 * Memory across runs: the policies seen per domain (id, body hash, fetch time, max_age, mode,
 * mx lines) and the last failed fetch live in `ctx.memory` (the database: they survive a restart
 * and every worker sees them) when the runtime lends it, otherwise in a bounded map of this probe
 * instance (lost on restart, per process). A memory that fails makes the result untestable:
 * judging over time from a memory we could not read would raise or resolve on a guess.
 */
import { createHash } from 'node:crypto';
import { performance } from 'node:perf_hooks';
import { DEFAULT_FETCH_TIMEOUT_MS, HttpsFetcher, type HttpsFetchResult } from '../../transport/https/https-fetcher.js';
import { type FindingRef, type PlanView, type ProbeEnv, defineProbe, statusFromObservations } from '../probe-definition.js';
import type { Dialer, ProbeContext, ProbeObservation, ProbeResult, ProbeStatus, Resolver, TlsUpgrader } from '../probe.types.js';
import { DNS_PATH_ERRORS, type DnsErrorKind } from '../../transport/transport.types.js';
import { MTA_STS_FINDINGS } from './mta-sts.findings.js';
import { mtaStsPolicy } from './mta-sts.policy.js';
import { type StsMode, type StsPolicy, mediaType, mxCovered, parseStsPolicy, parseStsTxt } from './mta-sts.parser.js';
import { BoundedMemory, type ProbeMemory } from '../probe-memory.js';
import { smtpTarget } from '../smtp/smtp.probe.js';

export const MTA_STS_PROBE = 'mta-sts';

/** What one MX address showed in this run's `starttls` result (read structurally: only these fields). */
export interface MxTlsFact {
  host: string;
  ip: string;
  port: number;
  testable: boolean;
  offered: boolean;
  handshakeOk: boolean;
  notAfter: string | null;
  trusted: boolean | null;
  nameMatch: boolean | null;
  authorizationError: string | null;
}

export interface MtaStsSubject {
  domain: string;
  /** false when the `mx` result was missing or untestable: coverage cannot be judged. */
  mxKnown: boolean;
  mxHosts: string[];
  tls: MxTlsFact[];
}

export type MtaStsState = 'missing' | 'txt_invalid' | 'unreachable' | 'policy_invalid' | StsMode;

/** A policy senders may have cached. */
export interface HeldPolicy {
  id: string;
  hash: string;
  mode: StsMode;
  maxAge: number;
  mx: string[];
  firstSeenAt: string;
  lastSeenAt: string;
  /** lastSeenAt + max_age: until then a sender that fetched it may still apply it. */
  until: string;
}

export type MtaStsDetails = {
  domain: string;
  state: MtaStsState;
  record: string | null;
  id: string | null;
  url: string;
  fetch: Omit<HttpsFetchResult, 'body'> | null;
  /** The failed fetch shown was not repeated: the same id failed less than five minutes ago. */
  fetchReused: boolean;
  retryAfter: string | null;
  body: string | null;
  policyHash: string | null;
  policy: StsPolicy | null;
  mxKnown: boolean;
  mxHosts: string[];
  uncovered: string[];
  /** `host[ip]:25` whose STARTTLS facts were testable in this run. */
  tlsChecked: string[];
  /** Policies (other than the current one) senders may still apply. */
  held: HeldPolicy[];
  error: string | null;
};

interface MemoryState {
  policies: Array<{ id: string; hash: string; content: string; mode: StsMode; maxAge: number; mx: string[]; firstSeenAt: number; lastSeenAt: number }>;
  failure: { id: string; at: number; fetch: HttpsFetchResult } | null;
}

export interface MtaStsProbeOptions {
  /** Default: Node's trust store (NODE_EXTRA_CA_CERTS included). */
  tlsUpgrader?: TlsUpgrader;
  /** Used when the context lends no memory. */
  memory?: ProbeMemory;
}

const RETRY_AFTER_FAILURE_MS = 5 * 60_000;
const MAX_POLICIES_KEPT = 8;

function contentKey(p: StsPolicy): string {
  return `${p.mode}|${p.maxAge}|${[...p.mx].sort().join(',')}`;
}

function describeChange(before: { mode: StsMode; maxAge: number; mx: string[] }, after: StsPolicy): string {
  const parts: string[] = [];
  if (before.mode !== after.mode) parts.push(`mode ${before.mode} -> ${after.mode}`);
  if (before.maxAge !== after.maxAge) parts.push(`max_age ${before.maxAge} -> ${after.maxAge}`);
  const added = after.mx.filter((m) => !before.mx.includes(m));
  const removed = before.mx.filter((m) => !after.mx.includes(m));
  if (added.length) parts.push(`mx added ${added.join(', ')}`);
  if (removed.length) parts.push(`mx removed ${removed.join(', ')}`);
  return parts.join('; ') || 'body changed';
}

function str(v: unknown): string | null {
  return typeof v === 'string' ? v : null;
}

function bool(v: unknown): boolean | null {
  return typeof v === 'boolean' ? v : null;
}

/** The MX hosts from this run's `mx` result, read structurally so the two probes stay decoupled. */
export function mxHostsFrom(plan: PlanView): { known: boolean; hosts: string[] } {
  const mx = plan.results('mx')[0];
  if (!mx || mx.status === 'untestable') return { known: false, hosts: [] };
  const hosts = (mx.details as { hosts?: Array<{ host?: unknown; ipLiteral?: unknown }> }).hosts ?? [];
  return {
    known: true,
    hosts: hosts
      .filter((h) => typeof h.host === 'string' && h.ipLiteral !== true)
      .map((h) => (h.host as string).toLowerCase().replace(/\.$/, '')),
  };
}

/** Port-25 STARTTLS facts per MX address from this run's `starttls` results. */
export function mxTlsFrom(plan: PlanView): MxTlsFact[] {
  const out: MxTlsFact[] = [];
  for (const r of plan.results('starttls')) {
    const d = r.details as Record<string, unknown>;
    if (d.port !== 25 || typeof d.host !== 'string' || typeof d.ip !== 'string') continue;
    const cert = d.cert as { notAfter?: unknown } | null | undefined;
    out.push({
      host: d.host.toLowerCase().replace(/\.$/, ''),
      ip: d.ip,
      port: 25,
      testable: r.status !== 'untestable',
      offered: d.offered === true,
      handshakeOk: d.handshakeOk === true,
      notAfter: cert ? str(cert.notAfter) : null,
      trusted: bool(d.trusted),
      nameMatch: bool(d.nameMatch),
      authorizationError: str(d.authorizationError),
    });
  }
  return out;
}

function tlsProblems(t: MxTlsFact, now: Date): string[] {
  if (!t.offered) return ['STARTTLS not offered'];
  if (!t.handshakeOk) return ['TLS handshake failed'];
  const problems: string[] = [];
  if (t.notAfter === null) problems.push('no certificate');
  else if (Date.parse(t.notAfter) < now.getTime()) problems.push(`certificate expired on ${t.notAfter}`);
  if (t.trusted === false) problems.push(`certificate not trusted (${t.authorizationError ?? 'unknown'})`);
  if (t.nameMatch === false) problems.push(`certificate does not name ${t.host}`);
  return problems;
}

const fetchers = new WeakMap<Dialer, { resolver: Resolver; policy: unknown; fetcher: HttpsFetcher }>();

/** One fetcher per runtime (dialer), so its one-request-per-host queue spans checks. */
function fetcherFor(ctx: ProbeContext, tlsUpgrader: TlsUpgrader | undefined): HttpsFetcher {
  const known = fetchers.get(ctx.dialer);
  if (known && known.resolver === ctx.resolver && known.policy === ctx.addressPolicy) return known.fetcher;
  const fetcher = new HttpsFetcher({ resolver: ctx.resolver, dialer: ctx.dialer, policy: ctx.addressPolicy, tlsUpgrader, userAgent: 'mxwatch (MTA-STS check)' });
  fetchers.set(ctx.dialer, { resolver: ctx.resolver, policy: ctx.addressPolicy, fetcher });
  return fetcher;
}

/** What a failed fetch says about the domain, or that we could not tell (our DNS path, our deadline). */
function classifyFailure(f: HttpsFetchResult, deadlineLimited: boolean): { untestable: string } | { cause: string; removed: boolean } {
  if (f.error === 'dns' && f.dnsError && DNS_PATH_ERRORS.has(f.dnsError as DnsErrorKind)) return { untestable: `policy_dns_${f.dnsError}` };
  if (f.error === 'timeout' && deadlineLimited) return { untestable: 'deadline_exceeded' };
  const removed = (f.error === 'dns' && (f.dnsError === 'nxdomain' || f.dnsError === 'nodata')) || (f.error === 'status' && (f.status === 404 || f.status === 410));
  const causes: Record<string, string> = {
    dns: 'DNS: the policy host does not resolve',
    forbidden: 'refused: the policy host resolves to a private or reserved address',
    connect: 'connect: no HTTPS server answers',
    tls: 'TLS handshake failed',
    certificate: 'certificate not valid for the policy host',
    status: `HTTP status ${f.status ?? 'invalid'}, not 200`,
    redirect: `redirect (HTTP ${f.status}), which senders do not follow`,
    size: 'size: the body exceeds 64 KiB',
    timeout: 'timeout: no complete answer in time',
  };
  return { cause: causes[f.error ?? 'connect'] ?? String(f.error), removed };
}

export function createMtaStsProbe(options: MtaStsProbeOptions = {}) {
  const ownMemory = options.memory ?? new BoundedMemory();

  return defineProbe<MtaStsDetails, MtaStsSubject>({
    name: MTA_STS_PROBE,
    scope: 'domain',
    title: 'MTA-STS: the TXT record, the HTTPS policy, MX coverage and what senders may still cache',
    needs: ['mx', 'starttls'],
    findings: MTA_STS_FINDINGS,
    policy: mtaStsPolicy,

    subjects(plan: PlanView): MtaStsSubject[] {
      const mx = mxHostsFrom(plan);
      return [{ domain: plan.domain.name.toLowerCase().replace(/\.$/, ''), mxKnown: mx.known, mxHosts: mx.hosts, tls: mxTlsFrom(plan) }];
    },

    async run(ctx: ProbeContext, subject: MtaStsSubject, env: ProbeEnv): Promise<ProbeResult<MtaStsDetails>> {
      const startedAt = ctx.now();
      const t0 = performance.now();
      const { domain } = subject;
      const memory = ctx.memory ?? ownMemory;
      const memoryKey = `mta-sts:${domain}`;
      const url = `https://mta-sts.${domain}/.well-known/mta-sts.txt`;
      const details: MtaStsDetails = {
        domain,
        state: 'missing',
        record: null,
        id: null,
        url,
        fetch: null,
        fetchReused: false,
        retryAfter: null,
        body: null,
        policyHash: null,
        policy: null,
        mxKnown: subject.mxKnown,
        mxHosts: subject.mxHosts,
        uncovered: [],
        tlsChecked: subject.tls.filter((t) => t.testable).map((t) => smtpTarget(t.host, t.ip, t.port)),
        held: [],
        error: null,
      };
      const obs: ProbeObservation[] = [];
      const observe = (code: keyof typeof MTA_STS_FINDINGS, target: string, params: ProbeObservation['params'], severity?: ProbeObservation['severity']) =>
        obs.push({ code, target, params: { domain, ...params }, ...(severity ? { severity } : {}) });
      const finish = (status: ProbeStatus | null, reason?: string): ProbeResult<MtaStsDetails> => ({
        probe: MTA_STS_PROBE as ProbeResult['probe'],
        target: domain,
        status: status ?? statusFromObservations(obs, MTA_STS_FINDINGS),
        ...(reason ? { reason } : {}),
        startedAt,
        durationMs: Math.round(performance.now() - t0),
        details,
        observations: obs,
      });

      const now = ctx.now();
      const nowMs = now.getTime();
      const memoryUnavailable = (e: unknown) => {
        obs.length = 0;
        details.error = `memory unavailable: ${e instanceof Error ? e.message : String(e)}`;
        return finish('untestable', 'memory_unavailable');
      };
      let state: MemoryState;
      try {
        state = (await memory.get<MemoryState>(memoryKey)) ?? { policies: [], failure: null };
      } catch (e) {
        return memoryUnavailable(e);
      }
      // What is remembered now: a run that changes nothing (most domains publish no MTA-STS at all)
      // writes nothing. A held policy's lastSeenAt moves on every fetch, so a domain with a policy is
      // written each run; an entry nobody rewrites is pruned only after any max_age has run out.
      const remembered = JSON.stringify(state);
      // Only policies some sender may still apply matter; the bound keeps a flapping policy from growing it.
      state.policies = state.policies.filter((p) => p.lastSeenAt + p.maxAge * 1000 > nowMs).slice(-MAX_POLICIES_KEPT);
      const heldEnforcing = () =>
        state.policies
          .filter((p) => p.mode === 'enforce' && p.lastSeenAt + p.maxAge * 1000 > nowMs)
          .sort((a, b) => b.lastSeenAt + b.maxAge * 1000 - (a.lastSeenAt + a.maxAge * 1000));
      const iso = (ms: number) => new Date(ms).toISOString();
      const removedUnsafely = (what: 'record' | 'policy') => {
        const held = heldEnforcing()[0];
        if (held) observe('MTASTS_REMOVED_UNSAFELY', domain, { what, id: held.id, until: iso(held.lastSeenAt + held.maxAge * 1000) });
      };
      /** Remembers this run's state, then ends with `status`. */
      const done = async (status: ProbeStatus | null, reason?: string) => {
        try {
          if (JSON.stringify(state) !== remembered) await memory.set(memoryKey, state);
        } catch (e) {
          return memoryUnavailable(e);
        }
        return finish(status, reason);
      };

      let txt;
      try {
        txt = await ctx.resolver.resolve(`_mta-sts.${domain}`, 'TXT', { signal: ctx.signal });
      } catch (e) {
        if (ctx.signal.aborted) return finish('untestable', 'aborted');
        throw e;
      }
      if (!txt.ok && txt.error !== 'nxdomain' && txt.error !== 'nodata') {
        details.error = txt.cause;
        return finish('untestable', `dns_${txt.error}`);
      }
      const verdict = parseStsTxt(txt.ok ? txt.records : []);
      if (verdict.kind === 'missing') {
        details.state = 'missing';
        observe('MTASTS_MISSING', domain, {});
        removedUnsafely('record');
        return done(null);
      }
      if (verdict.kind === 'invalid') {
        details.state = 'txt_invalid';
        details.record = verdict.records.join(' | ');
        observe('MTASTS_TXT_INVALID', domain, { problems: verdict.problems.join('; '), record: details.record });
        return done(null);
      }
      details.record = verdict.record;
      details.id = verdict.id;

      // Never re-fetch sooner than five minutes after a failure for the same id.
      let fetch: HttpsFetchResult;
      const failure = state.failure;
      if (failure && failure.id === verdict.id && nowMs - failure.at < RETRY_AFTER_FAILURE_MS) {
        fetch = failure.fetch;
        details.fetchReused = true;
        details.retryAfter = iso(failure.at + RETRY_AFTER_FAILURE_MS);
      } else {
        const fetcher = fetcherFor(ctx, options.tlsUpgrader);
        fetch = await env.exclusive(`https:mta-sts.${domain}`, () => fetcher.fetch(url, { deadline: ctx.deadline, signal: ctx.signal }));
      }
      const { body, ...fetchFacts } = fetch;
      details.fetch = fetchFacts;

      let policy: StsPolicy | null = null;
      if (!fetch.ok) {
        const deadlineLimited = ctx.deadline - (Date.now() - fetch.durationMs) < DEFAULT_FETCH_TIMEOUT_MS;
        const c = classifyFailure(fetch, deadlineLimited);
        // Without the body: thousands of remembered failures must not each hold up to 64 KiB.
        if (!details.fetchReused) state.failure = { id: verdict.id, at: nowMs, fetch: { ...fetch, body: null } };
        details.retryAfter = iso((state.failure?.at ?? nowMs) + RETRY_AFTER_FAILURE_MS);
        details.error = fetch.cause;
        if ('untestable' in c) {
          return done('untestable', c.untestable);
        }
        details.state = 'unreachable';
        const when = details.fetchReused ? `; not refetched before ${details.retryAfter}` : '';
        observe('MTASTS_POLICY_UNREACHABLE', domain, { url, cause: c.cause, error: `${fetch.cause ?? fetch.error}${when}`, kind: fetch.error });
        if (c.removed) removedUnsafely('policy');
      } else {
        state.failure = null;
        // Stored with every run: a policy is a few hundred bytes, and an odd large one need not be kept whole.
        details.body = body !== null && body.length > 8192 ? `${body.slice(0, 8192)}\n[... ${body.length - 8192} more characters]` : body;
        details.policyHash = createHash('sha256').update(body ?? '').digest('hex');
        const type = mediaType(fetch.headers['content-type']);
        if (type !== 'text/plain') observe('MTASTS_CONTENT_TYPE', domain, { contentType: fetch.headers['content-type'] ?? '(none)' });
        const parsed = parseStsPolicy(body ?? '');
        if (!parsed.ok) {
          details.state = 'policy_invalid';
          observe('MTASTS_POLICY_INVALID', domain, { problems: parsed.problems.join('; ') });
        } else {
          policy = parsed.policy;
          details.policy = policy;
          details.state = policy.mode;
        }
      }

      if (policy) {
        if (policy.mode === 'testing') observe('MTASTS_TESTING', domain, {});
        if (policy.mode !== 'none' && policy.maxAge < 86_400) observe('MTASTS_MAX_AGE_SHORT', domain, { maxAge: policy.maxAge });
        if (policy.mode !== 'none' && subject.mxKnown) {
          for (const host of subject.mxHosts) {
            if (mxCovered(policy.mx, host)) continue;
            details.uncovered.push(host);
            observe('MTASTS_MX_NOT_COVERED', host, { mx: host, mode: policy.mode, patterns: policy.mx.join(', ') }, policy.mode === 'enforce' ? 'critical' : 'warning');
          }
        }
        if (policy.mode === 'enforce' && subject.mxKnown) {
          for (const t of subject.tls) {
            if (!t.testable || !subject.mxHosts.includes(t.host)) continue;
            const problems = tlsProblems(t, now);
            if (problems.length) observe('MTASTS_MX_CERT_INVALID', smtpTarget(t.host, t.ip, t.port), { mx: t.host, ip: t.ip, problems: problems.join('; ') });
          }
        }
        const key = contentKey(policy);
        // The body changed under the same id: senders that fetched the old one keep it until it expires.
        const stale = state.policies.filter((p) => p.id === verdict.id && p.content !== key).sort((a, b) => b.lastSeenAt - a.lastSeenAt)[0];
        if (stale) observe('MTASTS_ID_STALE', domain, { id: verdict.id, change: describeChange(stale, policy), maxAge: stale.maxAge });
        const same = state.policies.find((p) => p.id === verdict.id && p.content === key);
        if (same) {
          same.lastSeenAt = nowMs;
          same.hash = details.policyHash!;
          same.maxAge = policy.maxAge;
          state.policies = [...state.policies.filter((p) => p !== same), same];
        } else {
          state.policies.push({ id: verdict.id, hash: details.policyHash!, content: key, mode: policy.mode, maxAge: policy.maxAge, mx: policy.mx, firstSeenAt: nowMs, lastSeenAt: nowMs });
        }
        state.policies = state.policies.slice(-MAX_POLICIES_KEPT);
      }

      // Policies other than the current one that senders may still apply.
      const currentKey = policy ? `${verdict.id}|${contentKey(policy)}` : null;
      const others = state.policies.filter((p) => `${p.id}|${p.content}` !== currentKey && p.lastSeenAt + p.maxAge * 1000 > nowMs);
      details.held = others.map((p) => ({
        id: p.id,
        hash: p.hash,
        mode: p.mode,
        maxAge: p.maxAge,
        mx: p.mx,
        firstSeenAt: iso(p.firstSeenAt),
        lastSeenAt: iso(p.lastSeenAt),
        until: iso(p.lastSeenAt + p.maxAge * 1000),
      }));
      if (subject.mxKnown) {
        const enforcing = others.filter((p) => p.mode === 'enforce').sort((a, b) => b.lastSeenAt + b.maxAge * 1000 - (a.lastSeenAt + a.maxAge * 1000));
        for (const host of subject.mxHosts) {
          if (details.uncovered.includes(host)) continue;
          const holder = enforcing.find((p) => !mxCovered(p.mx, host));
          if (holder) observe('MTASTS_MX_CHANGE_UNCOVERED', host, { mx: host, id: holder.id, until: iso(holder.lastSeenAt + holder.maxAge * 1000) });
        }
      }
      return done(null);
    },

    metrics: {
      specs: [{ name: 'mxwatch_mtasts_mode_info', help: 'MTA-STS state of a domain: enforce, testing, none, or missing/txt_invalid/unreachable/policy_invalid (value 1).', type: 'gauge', labelNames: ['domain', 'mode'], domainCount: { name: 'mxwatch_mtasts_mode_domains', help: 'Domains by MTA-STS state at their last conclusive check (the modes of mxwatch_mtasts_mode_info).' } }],
      series(result, domain) {
        if (result.status === 'untestable') return 'keep';
        return [{ metric: 'mxwatch_mtasts_mode_info', labels: { domain, mode: result.details.state }, value: 1 }];
      },
    },

    covers(finding: FindingRef, results: readonly ProbeResult[]): boolean | undefined {
      const r = results.find((x) => x.probe === (MTA_STS_PROBE as string));
      if (!r) return undefined;
      if (r.status === 'untestable') return false;
      const d = r.details as MtaStsDetails;
      if (finding.code === 'MTASTS_MX_NOT_COVERED' || finding.code === 'MTASTS_MX_CHANGE_UNCOVERED') return d.mxKnown;
      if (finding.code === 'MTASTS_MX_CERT_INVALID') {
        if (!d.mxKnown) return false;
        const host = finding.target.replace(/\[.*$/, '');
        return d.tlsChecked.includes(finding.target) || !d.mxHosts.includes(host) || d.policy?.mode !== 'enforce';
      }
      return undefined;
    },
  });
}

export const mtaStsProbe = createMtaStsProbe();
