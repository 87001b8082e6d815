import { describe, expect, it } from 'vitest';
import type { DomainInput, PlanView } from '../probe-definition.js';
import type { ProbeResult } from '../probe.types.js';
import { MemoryResolver, testContext, type MemoryZone } from '../spf/memory-resolver.fixture.js';
import { PTR_FINDINGS } from './ptr.findings.js';
import { isValidGreetingName, probePtr, ptrProbe, ptrSubjects, reverseName, type PtrDetails, type PtrSubject } from './ptr.probe.js';

const D = 'example.test';
const IP = '192.0.2.25';
const REV = '25.2.0.192.in-addr.arpa';

async function probe(zone: MemoryZone, subject: Partial<PtrSubject> = {}, faults: Record<string, 'servfail' | 'timeout'> = {}) {
  const result = await probePtr(testContext(new MemoryResolver(zone, faults)), { domain: D, ip: IP, roles: ['mx'], hosts: ['mx.example.test'], greetings: [], ...subject });
  for (const o of result.observations) {
    const spec = PTR_FINDINGS[o.code as keyof typeof PTR_FINDINGS];
    expect(spec, o.code).toBeDefined();
    for (const [, key] of `${spec.message} ${spec.remediation}`.matchAll(/\{(\w+)\}/g)) expect(o.params[key!], `${o.code} {${key}}`).not.toBeUndefined();
  }
  return result;
}

const codes = (r: ProbeResult<PtrDetails>) => r.observations.map((o) => o.code).sort();

describe(probePtr.name, () => {
  it('should pass an address whose PTR name resolves back to it (FCrDNS)', async () => {
    const r = await probe({ [REV]: { PTR: ['other.example.test', 'mx.example.test.'] }, 'mx.example.test': { A: [IP] }, 'other.example.test': { A: ['192.0.2.99'] } });
    expect(r).toMatchObject({ probe: 'ptr', target: IP, status: 'pass', observations: [] });
    expect(r.details).toMatchObject({ ptrNames: ['other.example.test', 'mx.example.test'], confirmedNames: ['mx.example.test'], fcrdns: true });
  });

  it('should confirm an IPv6 address through ip6.arpa and AAAA, whatever its notation', async () => {
    const ip = '2001:db8::25';
    expect(reverseName(ip)).toBe('5.2.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.8.b.d.0.1.0.0.2.ip6.arpa');
    const r = await probe({ [reverseName(ip)]: { PTR: ['mx.example.test'] }, 'mx.example.test': { AAAA: ['2001:0db8:0000::0025'] } }, { ip });
    expect(r.observations).toEqual([]);
  });

  it('should report PTR_MISSING as info for an MX address and as a warning for a sending address', async () => {
    const mx = await probe({});
    expect(codes(mx)).toEqual(['PTR_MISSING']);
    expect(mx.observations[0]!.severity).toBe('info');
    expect(mx.status).toBe('pass');
    const sending = await probe({ 'x.2.0.192.in-addr.arpa': { PTR: ['y'] } }, { roles: ['mx', 'sending'] });
    expect(codes(sending)).toEqual(['PTR_MISSING']);
    expect(sending.observations[0]!.severity).toBeUndefined();
    expect(sending.status).toBe('warn');
  });

  it('should report PTR_FCRDNS_MISMATCH when no PTR name resolves back', async () => {
    const r = await probe({ [REV]: { PTR: ['generic-192-0-2-25.isp.test'] }, 'generic-192-0-2-25.isp.test': { A: ['192.0.2.26'] } });
    expect(codes(r)).toEqual(['PTR_FCRDNS_MISMATCH']);
    expect(r.details.fcrdns).toBe(false);
    expect(r.status).toBe('warn');
  });

  it('should report HELO_NAME_INVALID for a banner or EHLO name that is not a FQDN', async () => {
    const zone = { [REV]: { PTR: ['mx.example.test'] }, 'mx.example.test': { A: [IP] } };
    const r = await probe(zone, { greetings: [{ where: 'banner', endpoint: `mx.example.test[${IP}]:25`, name: 'localhost' }, { where: 'ehlo', endpoint: `mx.example.test[${IP}]:25`, name: 'mx.example.test' }] });
    expect(codes(r)).toEqual(['HELO_NAME_INVALID']);
    expect(r.observations[0]!.params).toMatchObject({ name: 'localhost', where: `SMTP banner on mx.example.test[${IP}]:25` });
    const both = await probe(zone, { greetings: [{ where: 'banner', endpoint: 'e', name: 'mail' }, { where: 'ehlo', endpoint: 'e', name: 'mail' }] });
    expect(both.observations.map((o) => [o.code, o.params.name, o.params.where])).toEqual([['HELO_NAME_INVALID', 'mail', 'SMTP banner on e, EHLO reply on e']]);
  });

  it.each(['servfail', 'timeout'] as const)('should be untestable with no finding when the PTR lookup fails (%s)', async (fault) => {
    const r = await probe({}, { greetings: [{ where: 'banner', endpoint: 'x', name: 'bad' }] }, { [REV]: fault });
    expect(r).toMatchObject({ status: 'untestable', reason: `dns_${fault}`, observations: [] });
  });

  it('should be untestable when the forward lookup of the PTR name fails', async () => {
    const r = await probe({ [REV]: { PTR: ['mx.example.test'] } }, {}, { 'mx.example.test': 'servfail' });
    expect(r).toMatchObject({ status: 'untestable', observations: [] });
  });
});

describe(isValidGreetingName.name, () => {
  it.each(['mx.example.com', 'mx.example.com.', '[192.0.2.1]', '[IPv6:2001:db8::1]', 'xn--bcher-kva.example'])('should accept %s', (name) => {
    expect(isValidGreetingName(name)).toBe(true);
  });
  it.each(['localhost', 'mail', 'ESMTP', '192.0.2.1', '[192.0.2.300]', '[IPv6:nope]', 'mx_1.example.com', 'host.123'])('should refuse %s', (name) => {
    expect(isValidGreetingName(name)).toBe(false);
  });
});

describe(ptrSubjects.name, () => {
  const smtp = (ip: string, port: number, banner: string, ehlo: string) => ({
    probe: 'smtp', target: `mx.example.test[${ip}]:${port}`, status: 'pass',
    details: { host: 'mx.example.test', ip, port, role: 'mx', banner, bannerCode: 220, transcript: ['* connected', `S: 220 ${banner}`, 'C: EHLO probe.test', `S: 250-${ehlo}`, 'S: 250 STARTTLS'] },
  });
  const plan = (results: Record<string, unknown[]>, sendingIps: string[] = []): PlanView => ({
    domain: { name: D, submissionHosts: [], sendingIps, dkimSelectors: [] } as DomainInput,
    results: (probe) => (results[probe] ?? []) as ReturnType<PlanView['results']>,
    once: (_k, fn) => fn(),
  });

  it('should merge MX, configured and SPF /32 sending addresses, skipping wider SPF ranges and forbidden addresses, with greetings from port 25', () => {
    const subjects = ptrSubjects(
      plan(
        {
          mx: [{ probe: 'mx', status: 'pass', details: { hosts: [{ host: 'mx.example.test', ipLiteral: false, addresses: ['192.0.2.25', '10.0.0.1'] }] } }],
          spf: [{ status: 'pass', details: { ownNetworks: ['192.0.2.25/32', '198.51.100.7/32', '203.0.113.0/24', '2001:db8::9/128'] } }],
          smtp: [smtp('192.0.2.25', 25, 'mx.example.test ESMTP', 'localhost Hello'), smtp('192.0.2.25', 587, 'submission', 'x')],
        },
        ['198.51.100.8'],
      ),
      (ip) => !ip.startsWith('10.'),
    );
    expect(subjects).toEqual([
      {
        domain: D, ip: '192.0.2.25', roles: ['mx', 'sending'], hosts: ['mx.example.test'],
        greetings: [
          { where: 'banner', endpoint: 'mx.example.test[192.0.2.25]:25', name: 'mx.example.test' },
          { where: 'ehlo', endpoint: 'mx.example.test[192.0.2.25]:25', name: 'localhost' },
        ],
      },
      { domain: D, ip: '198.51.100.8', roles: ['sending'], hosts: [], greetings: [] },
      { domain: D, ip: '198.51.100.7', roles: ['sending'], hosts: [], greetings: [] },
      { domain: D, ip: '2001:db8::9', roles: ['sending'], hosts: [], greetings: [] },
    ]);
  });

  it('should ignore an untestable SPF result', () => {
    expect(ptrSubjects(plan({ spf: [{ status: 'untestable', details: { ownNetworks: ['198.51.100.7/32'] } }] }), () => true)).toEqual([]);
  });

  it('should need the mx, smtp and spf results', () => {
    expect(ptrProbe.needs).toEqual(['mx', 'smtp', 'spf']);
  });
});
