import { tmpdir } from 'node:os';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { chainElement } from '../../../../test/support/chain-element.js';
import { DnssecRig } from '../../../../test/rig/dnssec/dnssec-rig.js';
import { FakePolicyServer } from '../../../../test/rig/https/fake-policy-server.js';
import { createTestCa, type TestCa } from '../../../../test/rig/tls/test-ca.js';
import { createTestDatabase } from '../../../../test/support/postgres.js';
import { loadConfig } from '../config/load-config.js';
import { DatabaseService } from '../database/database.service.js';
import { openDatabase, type Database } from '../database/open-database.js';
import type { ChainElement } from '../probes/dane/dane-match.js';
import { createDaneProbe } from '../probes/dane/dane.probe.js';
import { createMtaStsProbe } from '../probes/mta-sts/mta-sts.probe.js';
import type { PlanView, ProbeDefinition, ProbeEnv } from '../probes/probe-definition.js';
import type { DnsAnswer, DnsRecordType, ProbeContext, ProbeResult, Resolver } from '../probes/probe.types.js';
import { ProbeMemoryRepository } from '../storage/probe-memory.repository.js';
import { NetDialer } from '../transport/net/net-dialer.js';
import { AddressPolicy } from '../transport/net/address-policy.js';
import { NodeTlsUpgrader } from '../transport/net/tls-upgrader.js';
import { ProbeRuntime } from './probe-runtime.service.js';

const env: ProbeEnv = { shared: (_k, fn) => fn(), exclusive: (_k, fn) => fn() };
const DAY = 86_400_000;
const codes = (r: ProbeResult) => r.observations.map((o) => `${o.code}@${o.target}`).sort();

/** Resolver stub for the MTA-STS names: name -> TXT/A records. */
class ZoneResolver implements Resolver {
  constructor(readonly zone: Map<string, Partial<Record<DnsRecordType, string[]>>>) {}
  async resolve<T extends DnsRecordType>(name: string, type: T): Promise<DnsAnswer<T>> {
    const records = this.zone.get(name.toLowerCase())?.[type];
    if (!records?.length) return { ok: false, type, name, error: 'nxdomain', cause: 'NXDOMAIN' } as DnsAnswer<T>;
    return { ok: true, type, name, records, ttl: 0 } as unknown as DnsAnswer<T>;
  }
}

/**
 * Medium tier: what the over-time findings remember lives in the database (ctx.memory, lent by the
 * runtime), so a restart or another worker on the same database sees what the last run saw. Each
 * "process" here is its own ProbeRuntime, its own database connection pool and its own probe
 * instance (so nothing is remembered in a module map they might share).
 */
describe('probe memory across processes', () => {
  let dbUrl: string;
  let drop: () => Promise<void>;
  let databases: Database[] = [];
  let ca: TestCa;
  let web: FakePolicyServer;
  let rig: DnssecRig;
  let zone: Map<string, Partial<Record<DnsRecordType, string[]>>>;
  let leaf: ChainElement;
  let renewed: ChainElement;
  let caEl: ChainElement;
  const mxHost = 'mx1.sts.test';

  /** A fresh process: its own runtime (lending the database's memory when `withMemory`) and connection pool. */
  async function process_(withMemory = true) {
    const config = loadConfig({
      cwd: tmpdir(),
      env: { MXWATCH_DNS_SERVERS: rig.address, MXWATCH_DNS_PROTOCOL: 'udp', MXWATCH_DNSSEC_CANARY: 'canary-ok.test,www.canary-bad.test', MXWATCH_ALLOW_PRIVATE_TARGETS: '127.0.0.0/8' },
    });
    let repo: ProbeMemoryRepository | undefined;
    if (withMemory) {
      const database = await openDatabase({ databaseUrl: dbUrl, dataDir: '/nonexistent' });
      databases.push(database);
      repo = new ProbeMemoryRepository(DatabaseService.over(database));
    }
    const runtime = new ProbeRuntime(config, undefined, repo);
    return {
      runtime,
      mtaSts: createMtaStsProbe({ tlsUpgrader: new NodeTlsUpgrader({ ca: ca.cert }) }),
      dane: createDaneProbe(),
      close: () => runtime.onApplicationShutdown(),
    };
  }

  /** Runs one probe on one subject with the process's context; MTA-STS names come from the stub zone and the fake HTTPS server. */
  async function run(p: Awaited<ReturnType<typeof process_>>, def: ProbeDefinition, plan: PlanView, at: number, stub = false): Promise<ProbeResult> {
    const { ctx: base, dispose } = p.runtime.context();
    const policy = AddressPolicy.fromList('127.0.0.0/8');
    const ctx: ProbeContext = stub
      ? { ...base, resolver: new ZoneResolver(zone), dialer: new NetDialer({ policy, portMap: new Map([[443, web.port]]) }), addressPolicy: policy, now: () => new Date(at) }
      : { ...base, now: () => new Date(at) };
    try {
      const [subject] = await def.subjects(plan, ctx);
      return (await def.run(ctx, subject, env))!;
    } finally {
      dispose();
    }
  }

  function stsPlan(domain: string): PlanView {
    return {
      domain: { name: domain, submissionHosts: [], sendingIps: [], dkimSelectors: [] },
      results: (name) => {
        if (name === 'mx') return [{ probe: 'mx', target: domain, status: 'pass', startedAt: new Date(), durationMs: 0, details: { hosts: [{ host: mxHost, addresses: [] }] }, observations: [] } as unknown as ProbeResult];
        if (name === 'starttls') {
          return [{ probe: 'starttls', target: `${mxHost}[192.0.2.10]:25`, status: 'pass', startedAt: new Date(), durationMs: 0, observations: [], details: { host: mxHost, ip: '192.0.2.10', port: 25, offered: true, handshakeOk: true, cert: { notAfter: new Date(Date.now() + 90 * DAY).toISOString() }, trusted: true, nameMatch: true, authorizationError: null } } as unknown as ProbeResult];
        }
        return [];
      },
      once: (_k, fn) => fn(),
    };
  }

  function danePlan(host: string, chain: ChainElement[]): PlanView {
    return {
      domain: { name: 'dane.test', submissionHosts: [], sendingIps: [], dkimSelectors: [] },
      results: (name) => {
        if (name === 'mx') return [{ probe: 'mx', status: 'pass', target: 'dane.test', details: { hosts: [{ host, addresses: ['192.0.2.1'] }] }, observations: [], startedAt: new Date(), durationMs: 0 } as unknown as ProbeResult];
        if (name === 'starttls') {
          return [{ probe: 'starttls', status: 'pass', target: `${host}[192.0.2.1]:25`, observations: [], startedAt: new Date(), durationMs: 0, details: { host, ip: '192.0.2.1', port: 25, offered: true, handshakeOk: true, nameMatch: true, chain } } as unknown as ProbeResult];
        }
        return [];
      },
      once: (_k, fn) => fn(),
    };
  }

  async function publish(domain: string, id: string, body: string) {
    zone.set(`_mta-sts.${domain}`, { TXT: [`v=STSv1; id=${id}`] });
    zone.set(`mta-sts.${domain}`, { A: [web.ip] });
    await web.setSite(`mta-sts.${domain}`, { behaviour: 'good', body });
  }
  const enforce = (maxAge: number, extra = '') => `version: STSv1\nmode: enforce\nmx: ${mxHost}\nmax_age: ${maxAge}\n${extra}`;

  beforeAll(async () => {
    const db = await createTestDatabase('mxwatch_probe_memory');
    dbUrl = db.url;
    drop = db.drop;
    ca = await createTestCa({ commonName: 'mxwatch probe memory test CA', keyType: 'ec' });
    web = await FakePolicyServer.start({ ca, ip: `127.${20 + Math.floor(Math.random() * 200)}.${Math.floor(Math.random() * 250)}.11` });
    const a = await ca.issue({ commonName: 'mx.dane.test' });
    const b = await ca.issue({ commonName: 'mx.dane.test' });
    leaf = chainElement(a.cert);
    renewed = chainElement(b.cert);
    caEl = chainElement(ca.cert);
    rig = await DnssecRig.start({
      zones: [
        { name: 'canary-ok.test', signed: true, records: [] },
        { name: 'canary-bad.test', signed: true, records: ['www IN A 192.0.2.1'], bogus: ['www.canary-bad.test. 1 IN A 192.0.2.66'] },
        { name: 'dane.test', signed: true, records: ['mx IN A 192.0.2.1', `_25._tcp.mx IN TLSA 3 1 1 ${leaf.spkiSha256}`] },
      ],
    });
  });

  afterAll(async () => {
    await Promise.all(databases.map((d) => d.close()));
    await web?.close();
    await rig?.close();
    await drop?.();
  });

  beforeEach(() => {
    zone = new Map();
  });

  it('should see that an MTA-STS policy changed under the same id after a restart (MTASTS_ID_STALE)', async () => {
    const t0 = Date.now();
    await publish('stale.test', 'v1', enforce(604800));
    const first = await process_();
    expect(codes(await run(first, first.mtaSts, stsPlan('stale.test'), t0, true))).toEqual([]);
    first.close();

    // The owner edits the policy but forgets the id; the service restarted in between.
    await web.setSite('mta-sts.stale.test', { behaviour: 'good', body: enforce(604800, 'mx: mx2.sts.test\n') });
    const second = await process_();
    expect(codes(await run(second, second.mtaSts, stsPlan('stale.test'), t0 + 600_000, true))).toEqual(['MTASTS_ID_STALE@stale.test']);
    second.close();

    // A process without the database's memory starts from nothing: it cannot know.
    const forgetful = await process_(false);
    expect(codes(await run(forgetful, forgetful.mtaSts, stsPlan('stale.test'), t0 + 1_200_000, true))).toEqual([]);
    forgetful.close();
  });

  it('should see on another worker that the record went while an enforcing policy is still cached (MTASTS_REMOVED_UNSAFELY)', async () => {
    const t0 = Date.now();
    await publish('gone.test', 'v1', enforce(86400 * 7));
    const [a, b] = [await process_(), await process_()];
    expect(codes(await run(a, a.mtaSts, stsPlan('gone.test'), t0, true))).toEqual([]);
    zone.delete('_mta-sts.gone.test');
    expect(codes(await run(b, b.mtaSts, stsPlan('gone.test'), t0 + 300_000, true))).toEqual(['MTASTS_MISSING@gone.test', 'MTASTS_REMOVED_UNSAFELY@gone.test']);
    a.close();
    b.close();
  });

  it('should see on another worker that the key an MX presents changed to one no TLSA matches (DANE_ROLLOVER_RISK)', async () => {
    const t0 = Date.now();
    const [a, b] = [await process_(), await process_()];
    const host = 'mx.dane.test';
    const before = await run(a, a.dane, danePlan(host, [leaf, caEl]), t0);
    expect(before).toMatchObject({ status: 'pass' });
    expect(codes(before)).toEqual(['DANE_NO_ROLLOVER@mx.dane.test']);

    // The certificate was renewed with a new key and the TLSA record not updated; another worker checks next.
    const after = await run(b, b.dane, danePlan(host, [renewed, caEl]), t0 + 300_000);
    expect(codes(after)).toEqual([`DANE_NO_MATCH@${host}[192.0.2.1]:25`, `DANE_ROLLOVER_RISK@${host}[192.0.2.1]:25`]);
    expect(after.observations.find((o) => o.code === 'DANE_ROLLOVER_RISK')!.params.why).toMatch(/key changed/);
    a.close();
    b.close();

    // The same change seen by a process without the shared memory: only the mismatch, not why.
    const [c, d] = [await process_(false), await process_(false)];
    await run(c, c.dane, danePlan(host, [leaf, caEl]), t0);
    expect(codes(await run(d, d.dane, danePlan(host, [renewed, caEl]), t0 + 300_000))).toEqual([`DANE_NO_MATCH@${host}[192.0.2.1]:25`]);
    c.close();
    d.close();
  });
});
