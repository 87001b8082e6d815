/**
 * Cross-checks the SPF verdicts that make receivers return permerror (lookup limit, loop, void
 * lookups) against a kept SPF implementation, mailauth, fed the same zone through its injectable
 * resolver and a client address that matches nothing (so it walks as far as a receiver can).
 */
import { createRequire } from 'node:module';
import { describe, expect, it } from 'vitest';
import { evaluateSpf } from './spf-evaluator.js';
import { MemoryResolver, testContext, type MemoryZone } from './memory-resolver.fixture.js';
import { probeSpf } from './spf.probe.js';

const require = createRequire(import.meta.url);
const { spf: mailauthSpf } = require('mailauth/lib/spf/index.js') as {
  spf(opts: { sender: string; ip: string; helo: string; mta: string; resolver: (name: string, type: string) => Promise<unknown> }): Promise<{ status: { result: string; comment: string } }>;
};

const D = 'example.test';
const PERMERROR_CODES = new Set(['SPF_LOOKUP_LIMIT', 'SPF_LOOP', 'SPF_VOID_LOOKUPS', 'SPF_INCLUDE_INVALID', 'SPF_SYNTAX', 'SPF_MULTIPLE_RECORDS']);

/** The zone in node:dns shape (TXT as chunk lists, errors with ENOTFOUND/ENODATA codes), as mailauth expects. */
function nodeStyleResolver(zone: MemoryZone) {
  const memory = new MemoryResolver(zone);
  return async (name: string, type: string) => {
    const answer = await memory.resolve(name, type as 'A');
    if (!answer.ok) {
      const err = Object.assign(new Error(answer.cause), { code: answer.error === 'nxdomain' ? 'ENOTFOUND' : answer.error === 'nodata' ? 'ENODATA' : 'ESERVFAIL' });
      throw err;
    }
    return type === 'TXT' ? (answer.records as string[]).map((r) => [r]) : answer.records;
  };
}

async function both(zone: MemoryZone) {
  const ours = await probeSpf(testContext(new MemoryResolver(zone)), D);
  const theirs = await mailauthSpf({ sender: `postmaster@${D}`, ip: '203.0.113.250', helo: 'client.example.net', mta: 'mx.receiver.test', resolver: nodeStyleResolver(zone) });
  const ourCodes = ours.observations.map((o) => o.code);
  return { ours, ourCodes, ourPermerror: ourCodes.some((c) => PERMERROR_CODES.has(c)), theirs: theirs.status.result, comment: theirs.status.comment };
}

function includeChain(n: number): { terms: string; zone: MemoryZone } {
  const zone: MemoryZone = {};
  const terms: string[] = [];
  for (let i = 1; i <= n; i++) {
    zone[`i${i}.vendor.test`] = { TXT: [`v=spf1 ip4:198.51.100.${i} -all`] };
    terms.push(`include:i${i}.vendor.test`);
  }
  return { terms: terms.join(' '), zone };
}

describe(evaluateSpf.name, () => {
  describe('agrees with mailauth on permerror verdicts', () => {
    it('should find the lookup limit exceeded at 11 includes, like mailauth', async () => {
      const inc = includeChain(11);
      const r = await both({ [D]: { TXT: [`v=spf1 ${inc.terms} -all`] }, ...inc.zone });
      expect(r.ourCodes).toEqual(['SPF_LOOKUP_LIMIT']);
      expect(r.theirs).toBe('permerror');
      expect(r.comment).toContain('Too many DNS requests');
    });

    it('should stay within the limit at exactly 10 includes, like mailauth (fail from -all, not permerror)', async () => {
      const inc = includeChain(10);
      const r = await both({ [D]: { TXT: [`v=spf1 ${inc.terms} -all`] }, ...inc.zone });
      expect(r.ourCodes).toEqual(['SPF_LOOKUP_NEAR_LIMIT']);
      expect(r.ourPermerror).toBe(false);
      expect(r.theirs).toBe('fail');
    });

    it('should count an include reached by two paths twice, like mailauth (RFC; a checker that dedups calls this 8 and passes it)', async () => {
      const shared = includeChain(4);
      const r = await both({
        [D]: { TXT: ['v=spf1 include:left.example.test include:right.example.test -all'] },
        'left.example.test': { TXT: ['v=spf1 include:common.example.test -all'] },
        'right.example.test': { TXT: ['v=spf1 include:common.example.test -all'] },
        'common.example.test': { TXT: [`v=spf1 ${shared.terms} -all`] },
        ...shared.zone,
      });
      expect(r.ours.details.lookups).toBe(12);
      expect(r.ourCodes).toEqual(['SPF_LOOKUP_LIMIT']);
      expect(r.theirs).toBe('permerror');
    });

    it('should count "a:host" as a lookup like the bare "a", like mailauth (RFC; a checker counting only the bare "a" calls this 1)', async () => {
      const terms = Array.from({ length: 11 }, (_, i) => `a:h${i}.example.test`).join(' ');
      const zone: MemoryZone = { [D]: { TXT: [`v=spf1 ${terms} -all`] } };
      for (let i = 0; i < 11; i++) zone[`h${i}.example.test`] = { A: [`192.0.2.${i + 1}`] };
      const r = await both(zone);
      expect(r.ourCodes).toEqual(['SPF_LOOKUP_LIMIT']);
      expect(r.theirs).toBe('permerror');
    });

    it('should call a cycle a loop where mailauth runs into the lookup limit: both are permerror', async () => {
      const r = await both({
        [D]: { TXT: ['v=spf1 include:a.example.test -all'] },
        'a.example.test': { TXT: ['v=spf1 include:b.example.test -all'] },
        'b.example.test': { TXT: ['v=spf1 include:a.example.test -all'] },
      });
      expect(r.ourCodes).toEqual(['SPF_LOOP']);
      expect(r.theirs).toBe('permerror');
    });

    it('should find more than 2 void lookups, like mailauth', async () => {
      const r = await both({ [D]: { TXT: ['v=spf1 a:gone1.example.test a:gone2.example.test exists:gone3.example.test -all'] } });
      expect(r.ourCodes).toEqual(['SPF_VOID_LOOKUPS']);
      expect(r.theirs).toBe('permerror');
      expect(r.comment).toContain('void');
    });

    it('should allow exactly 2 void lookups, like mailauth', async () => {
      const r = await both({ [D]: { TXT: ['v=spf1 a:gone1.example.test a:gone2.example.test -all'] } });
      expect(r.ourPermerror).toBe(false);
      expect(r.theirs).toBe('fail');
    });

    it('should ignore a redirect when "all" is present, like mailauth (section 6.1; a checker that follows it counts its lookups)', async () => {
      const inc = includeChain(11);
      const r = await both({ [D]: { TXT: ['v=spf1 ip4:192.0.2.1 -all redirect=heavy.example.test'] }, 'heavy.example.test': { TXT: [`v=spf1 ${inc.terms} -all`] }, ...inc.zone });
      expect(r.ours.details.lookups).toBe(0);
      expect(r.ourPermerror).toBe(false);
      expect(r.theirs).toBe('fail');
    });

    it('should find an mx mechanism naming more than 10 MX hosts a permerror, like mailauth (its own limit, beside the 10 lookups)', async () => {
      const zone: MemoryZone = { [D]: { TXT: ['v=spf1 mx -all'], MX: Array.from({ length: 11 }, (_, i) => ({ exchange: `mx${i}.example.test`, priority: i })) } };
      for (let i = 0; i < 11; i++) zone[`mx${i}.example.test`] = { A: [`192.0.2.${i + 1}`] };
      const r = await both(zone);
      expect(r.ourCodes).toEqual(['SPF_LOOKUP_LIMIT']);
      expect(r.theirs).toBe('permerror');
    });

    it('should find an include without an SPF record a permerror, like mailauth', async () => {
      const r = await both({ [D]: { TXT: ['v=spf1 include:nospf.example.test -all'] }, 'nospf.example.test': { TXT: ['hello'] } });
      expect(r.ourCodes).toEqual(['SPF_INCLUDE_INVALID']);
      expect(r.theirs).toBe('permerror');
    });

    it('should find multiple SPF records a permerror, like mailauth (RFC; a checker reporting "no SPF" is wrong)', async () => {
      const r = await both({ [D]: { TXT: ['v=spf1 -all', 'v=spf1 ~all'] } });
      expect(r.ourCodes).toEqual(['SPF_MULTIPLE_RECORDS']);
      expect(r.theirs).toBe('permerror');
    });
  });
});
