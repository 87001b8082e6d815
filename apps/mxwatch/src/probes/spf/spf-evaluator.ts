/**
 * Walks a domain's SPF policy the way a receiver evaluates it for a client address that matches
 * nothing (the worst case, and the one every lookup limit is about): every include, redirect,
 * a, mx, ptr and exists costs one lookup wherever it is reached (RFC 7208 section 4.6.4), an
 * include reached by two paths is evaluated twice, a loop is a cycle on the recursion path,
 * terms after `all` are never reached and `redirect` is ignored when the record has `all`.
 *
 * Nothing here throws for DNS conditions: a lookup that fails on our side (SERVFAIL, timeout,
 * REFUSED) is recorded in `pathError`, and the caller turns the whole result untestable.
 */
import ipaddr from 'ipaddr.js';
import { getDomain } from 'tldts';
import type { DnsAnswer, DnsErrorKind, DnsRecordType, ProbeContext } from '../probe.types.js';
import { DNS_INCONCLUSIVE_ERRORS } from '../../transport/transport.types.js';
import { expandStaticMacros, isSpfRecord, needsMessage, parseSpf, type SpfMechanism } from './spf-record.js';

export const SPF_LOOKUP_LIMIT = 10;
export const SPF_VOID_LIMIT = 2;
/** Section 4.6.4: an mx mechanism may look up the addresses of at most 10 MX names. */
export const SPF_MX_NAME_LIMIT = 10;
/** Section 3.4: above this a record may not fit a 512-byte UDP answer. */
export const SPF_RECORD_MAX_BYTES = 450;
/** Far beyond what a receiver evaluates (it stops at 11): bounds the walk of a pathological tree. */
const WALK_LIMIT = 60;

export type SpfNodeError = 'no_record' | 'multiple_records' | 'syntax' | 'loop' | 'needs_message' | 'not_evaluated';

export type SpfNode = {
  domain: string;
  /** The term that led here (`include:_spf.example.net`, `redirect=example.net`); null at the root. */
  via: string | null;
  record: string | null;
  /** Lookups of this record's own terms (its includes and redirect count here, their contents below). */
  ownLookups: number;
  /** Lookups of this record and everything it pulls in. */
  lookups: number;
  /** Under the monitored domain's organisational domain (its own part of the policy). */
  sameOrganisation: boolean;
  error: SpfNodeError | null;
  errorDetail: string | null;
  children: SpfNode[];
};

export type SpfPathError = { name: string; type: DnsRecordType; error: DnsErrorKind; cause: string };

export interface SpfProblems {
  multiple: string[];
  syntax: string[];
  includeInvalid: string[];
  loops: string[];
  /** `+all` (or a bare `all`) anywhere in the evaluated tree. */
  passAll: string[];
  /** `?all`, or neither `all` nor `redirect`, in the records that decide the domain's own result. */
  weakAll: string[];
  ptr: string[];
  tooLong: string[];
  broad: string[];
  mxNames: string[];
}

export interface SpfEvaluation {
  /** The SPF records at the domain itself (more than one is a permerror). */
  records: string[];
  /** The domain's own TXT lookup said the name does not exist. */
  domainNxdomain: boolean;
  tree: SpfNode | null;
  lookups: number;
  voidLookups: number;
  /** Which lookups were void, for people. */
  voidNames: string[];
  problems: SpfProblems;
  /** ip4/ip6 networks and resolved a/mx addresses of the domain's own part, as `address/length`. */
  ownNetworks: string[];
  /** Includes outside the organisational domain: named, never expanded into addresses. */
  thirdPartyIncludes: string[];
  /** The first lookup that failed on our side; set means the evaluation is untestable. */
  pathError: SpfPathError | null;
  /** The walk stopped at WALK_LIMIT lookups. */
  truncated: boolean;
}


export class SpfDeadline extends Error {}

export function organisationalDomain(name: string): string {
  return getDomain(name) ?? name;
}

export async function evaluateSpf(ctx: ProbeContext, domain: string): Promise<SpfEvaluation> {
  const walker = new SpfWalker(ctx, domain);
  return walker.run();
}

class SpfWalker {
  private readonly rootOrg: string;
  private readonly out: SpfEvaluation;
  private readonly own = new Set<string>();
  private readonly third = new Set<string>();

  constructor(
    private readonly ctx: ProbeContext,
    private readonly root: string,
  ) {
    this.rootOrg = organisationalDomain(root);
    this.out = {
      records: [], domainNxdomain: false, tree: null, lookups: 0, voidLookups: 0, voidNames: [], ownNetworks: [], thirdPartyIncludes: [], pathError: null, truncated: false,
      problems: { multiple: [], syntax: [], includeInvalid: [], loops: [], passAll: [], weakAll: [], ptr: [], tooLong: [], broad: [], mxNames: [] },
    };
  }

  async run(): Promise<SpfEvaluation> {
    const txt = await this.resolve(this.root, 'TXT');
    if (this.out.pathError) return this.out;
    this.out.domainNxdomain = !txt.ok && txt.error === 'nxdomain';
    const records = txt.ok ? txt.records.filter(isSpfRecord) : [];
    this.out.records = records;
    if (records.length === 0) return this.out;
    if (records.length > 1) {
      this.out.problems.multiple.push(...records);
      this.out.tree = this.node(this.root, null, null, true, 'multiple_records', `${records.length} SPF records`);
      return this.out;
    }
    this.out.tree = await this.evaluateRecord(this.node(this.root, null, records[0]!, true), [this.root], true, true);
    this.out.lookups = this.out.tree.lookups;
    this.out.ownNetworks = [...this.own];
    this.out.thirdPartyIncludes = [...this.third];
    return this.out;
  }

  private node(domain: string, via: string | null, record: string | null, sameOrganisation: boolean, error: SpfNodeError | null = null, errorDetail: string | null = null): SpfNode {
    return { domain, via, record, ownLookups: 0, lookups: 0, sameOrganisation, error, errorDetail, children: [] };
  }

  /** Fetches and evaluates the record an include or redirect names. */
  private async follow(domain: string, via: string, path: string[], own: boolean, decides: boolean): Promise<SpfNode> {
    const sameOrganisation = organisationalDomain(domain) === this.rootOrg;
    if (path.includes(domain)) {
      this.out.problems.loops.push([...path, domain].join(' → '));
      return this.node(domain, via, null, sameOrganisation, 'loop', `${domain} is already being evaluated on this path`);
    }
    if (this.out.lookups > WALK_LIMIT) {
      this.out.truncated = true;
      return this.node(domain, via, null, sameOrganisation, 'not_evaluated', 'the walk stopped far beyond the lookup limit');
    }
    const txt = await this.resolve(domain, 'TXT');
    if (this.out.pathError) return this.node(domain, via, null, sameOrganisation, 'not_evaluated', 'DNS lookup failed');
    if (!txt.ok) this.void(domain);
    const records = txt.ok ? txt.records.filter(isSpfRecord) : [];
    if (records.length !== 1) {
      const what = records.length === 0 ? (txt.ok || txt.error === 'nodata' ? 'has no SPF record' : 'does not exist') : `has ${records.length} SPF records`;
      this.out.problems.includeInvalid.push(`${via}: ${domain} ${what}`);
      return this.node(domain, via, null, sameOrganisation, records.length ? 'multiple_records' : 'no_record', `${domain} ${what}`);
    }
    return this.evaluateRecord(this.node(domain, via, records[0]!, sameOrganisation), [...path, domain], own && sameOrganisation, decides);
  }

  /**
   * `own`: this record belongs to the monitored domain's own part (its addresses are collected).
   * `decides`: this record's `all` decides the domain's result (the root and its redirect chain).
   */
  private async evaluateRecord(node: SpfNode, path: string[], own: boolean, decides: boolean): Promise<SpfNode> {
    const record = node.record!;
    const where = node.via ? ` (in ${node.domain}, reached by ${node.via})` : '';
    if (own && Buffer.byteLength(record) > SPF_RECORD_MAX_BYTES) this.out.problems.tooLong.push(`${node.domain}: ${Buffer.byteLength(record)} bytes`);
    const parsed = parseSpf(record);
    if (parsed.errors.length) {
      // Section 4.6: a receiver checks the whole record first; a syntax error is a permerror before any lookup.
      this.out.problems.syntax.push(...parsed.errors.map((e) => `${e}${where}`));
      node.error = 'syntax';
      node.errorDetail = parsed.errors.join('; ');
      return node;
    }
    let allTerm: SpfMechanism | null = null;
    for (const term of parsed.terms) {
      if (term.kind !== 'mechanism') continue;
      if (this.out.pathError) return this.sum(node);
      if (term.name === 'all') {
        allTerm = term;
        break;
      }
      await this.mechanism(node, term, path, own, where);
    }
    if (this.out.pathError) return this.sum(node);

    if (allTerm) {
      if (allTerm.qualifier === '+') this.out.problems.passAll.push(`${allTerm.text}${where}`);
      else if (allTerm.qualifier === '?' && decides) this.out.problems.weakAll.push(`${allTerm.text}${where}`);
      // Section 6.1: with `all` present the redirect is never reached.
      return this.sum(node);
    }
    const redirect = parsed.terms.find((t) => t.kind === 'modifier' && t.name === 'redirect');
    if (redirect && redirect.kind === 'modifier') {
      node.ownLookups++;
      this.out.lookups++;
      if (needsMessage(redirect.value)) {
        node.children.push(this.node(redirect.value, redirect.text, null, false, 'needs_message', 'the target depends on the message being checked'));
      } else {
        const target = expandStaticMacros(redirect.value, node.domain, this.root);
        node.children.push(await this.follow(target, redirect.text, path, own, decides));
      }
    } else if (decides) {
      this.out.problems.weakAll.push(`no "all" and no "redirect"${where}: the result for unlisted senders is neutral`);
    }
    return this.sum(node);
  }

  private async mechanism(node: SpfNode, term: SpfMechanism, path: string[], own: boolean, where: string): Promise<void> {
    switch (term.name) {
      case 'ip4':
      case 'ip6': {
        const length = term.name === 'ip4' ? (term.cidr4 ?? 32) : (term.cidr6 ?? 128);
        if ((term.name === 'ip4' && length < 16) || (term.name === 'ip6' && length < 48)) this.out.problems.broad.push(`${term.text}${where}`);
        if (own) this.addNetwork(term.value!, length);
        return;
      }
      case 'include':
      case 'a':
      case 'mx':
      case 'ptr':
      case 'exists':
        break;
    }
    node.ownLookups++;
    this.out.lookups++;
    if (term.name === 'ptr') {
      this.out.problems.ptr.push(`${term.text}${where}`);
      // The PTR lookups depend on the connecting client: nothing to walk without one.
      return;
    }
    const spec = term.value ?? node.domain;
    if (needsMessage(spec)) {
      if (term.name === 'include') node.children.push(this.node(spec, term.text, null, false, 'needs_message', 'the target depends on the message being checked'));
      return;
    }
    const target = expandStaticMacros(spec, node.domain, this.root);
    if (term.name === 'include') {
      const child = await this.follow(target, term.text, path, own, false);
      node.children.push(child);
      if (own && !child.sameOrganisation && !this.third.has(target)) this.third.add(target);
      return;
    }
    if (term.name === 'exists') {
      const a = await this.resolve(target, 'A');
      if (!this.out.pathError && !a.ok) this.void(target);
      return;
    }
    if (term.name === 'a') {
      const addresses = await this.addresses(target);
      if (addresses === null) return;
      if (addresses.length === 0) this.void(target);
      if (own) for (const ip of addresses) this.addNetwork(ip, ipaddr.IPv4.isValid(ip) ? (term.cidr4 ?? 32) : (term.cidr6 ?? 128));
      return;
    }
    const mx = await this.resolve(target, 'MX');
    if (this.out.pathError) return;
    const names = mx.ok ? mx.records.map((r) => r.exchange).filter((n) => n !== '.' && n !== '') : [];
    if (names.length === 0) {
      this.void(target);
      return;
    }
    if (names.length > SPF_MX_NAME_LIMIT) this.out.problems.mxNames.push(`${term.text}${where} names ${names.length} MX hosts`);
    for (const name of names.slice(0, SPF_MX_NAME_LIMIT)) {
      const addresses = await this.addresses(name);
      if (addresses === null) return;
      if (own) for (const ip of addresses) this.addNetwork(ip, ipaddr.IPv4.isValid(ip) ? (term.cidr4 ?? 32) : (term.cidr6 ?? 128));
    }
  }

  /** A and AAAA (a receiver asks the family of its client; a monitor must know both). Null on a path error. */
  private async addresses(name: string): Promise<string[] | null> {
    const [a, aaaa] = await Promise.all([this.resolve(name, 'A'), this.resolve(name, 'AAAA')]);
    if (this.out.pathError) return null;
    return [...(a.ok ? a.records : []), ...(aaaa.ok ? aaaa.records : [])];
  }

  private void(name: string): void {
    this.out.voidLookups++;
    this.out.voidNames.push(name);
  }

  private addNetwork(address: string, length: number): void {
    try {
      const cidr = `${address}/${length}`;
      const network = ipaddr.parse(address).kind() === 'ipv4' ? ipaddr.IPv4.networkAddressFromCIDR(cidr) : ipaddr.IPv6.networkAddressFromCIDR(cidr);
      this.own.add(`${network.toString()}/${length}`);
    } catch {
      // An unparsable address from DNS is not the domain's SPF problem; nothing to collect.
    }
  }

  private sum(node: SpfNode): SpfNode {
    node.lookups = node.ownLookups + node.children.reduce((n, c) => n + c.lookups, 0);
    return node;
  }

  private async resolve<T extends DnsRecordType>(name: string, type: T): Promise<DnsAnswer<T>> {
    let answer: DnsAnswer<T>;
    try {
      answer = await this.ctx.resolver.resolve(name, type, { signal: this.ctx.signal });
    } catch (err) {
      if (this.ctx.signal.aborted) throw new SpfDeadline();
      throw err;
    }
    if (!answer.ok && DNS_INCONCLUSIVE_ERRORS.has(answer.error) && !this.out.pathError) {
      this.out.pathError = { name, type, error: answer.error, cause: answer.cause };
    }
    return answer;
  }
}

/** The include of the top-level records that costs most (the include term itself plus what it pulls in). */
export function heaviestInclude(tree: SpfNode | null): { via: string; lookups: number } | null {
  let best: { via: string; lookups: number } | null = null;
  const visit = (node: SpfNode) => {
    for (const child of node.children) {
      if (child.via?.toLowerCase().startsWith('redirect=')) {
        visit(child);
        continue;
      }
      const cost = 1 + child.lookups;
      if (child.via && (!best || cost > best.lookups)) best = { via: child.via.replace(/^[+\-~?]/, ''), lookups: cost };
    }
  };
  if (tree) visit(tree);
  return best;
}
