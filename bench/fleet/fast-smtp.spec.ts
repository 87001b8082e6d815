import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AddressPolicy } from '../../apps/mxwatch/src/transport/net/address-policy.js';
import { NetDialer } from '../../apps/mxwatch/src/transport/net/net-dialer.js';
import { NodeTlsUpgrader } from '../../apps/mxwatch/src/transport/net/tls-upgrader.js';
import type { ProbeContext } from '../../apps/mxwatch/src/probes/probe.types.js';
import { probeSmtpEndpoint } from '../../apps/mxwatch/src/probes/smtp/smtp.probe.js';
import { createTestCa, type TestCa } from '../../test/rig/tls/test-ca.js';
import { FastSmtpFleet, pickPorts } from './fast-smtp.js';
import { MX_ZONE, type ProbedPort } from './fleet-model.js';

describe(FastSmtpFleet.name, () => {
  let ca: TestCa;
  let fleet: FastSmtpFleet;
  let ports: Record<ProbedPort, number>;

  beforeAll(async () => {
    ca = await createTestCa({ keyType: 'ec' });
    const leaf = await ca.issue({ commonName: MX_ZONE, altNames: [`*.${MX_ZONE}`] });
    ports = await pickPorts();
    fleet = await FastSmtpFleet.start(
      [
        { ip: '127.0.3.1', open: [25, 587, 465], starttls: true },
        { ip: '127.0.3.2', open: [25], starttls: false },
      ],
      { ports, key: leaf.key, cert: leaf.cert, bannerDelayMs: { min: 5, max: 10 } },
    );
  });

  afterAll(async () => {
    await fleet?.close();
  });

  function context(): ProbeContext {
    const ac = new AbortController();
    setTimeout(() => ac.abort(), 10_000).unref();
    const policy = AddressPolicy.fromList('127.0.0.0/8');
    return {
      deadline: Date.now() + 10_000,
      signal: ac.signal,
      resolver: { resolve: () => Promise.reject(new Error('no DNS in this test')) },
      dnsblResolver: { resolve: () => Promise.reject(new Error('no DNS in this test')) },
      dialer: new NetDialer({ policy, portMap: new Map(Object.entries(ports).map(([k, v]) => [Number(k), v])) }),
      addressPolicy: policy,
      settings: { smtpPorts: [25, 587, 465], certWarnDays: 14, slowBannerMs: 5000, dnsblZones: [], ehloName: 'probe.test', smtpConnectTimeoutMs: 2000, smtpReplyTimeoutMs: 2000, maxMxHosts: 10, maxAddresses: 32 },
      now: () => new Date(),
    };
  }

  const probe = (ip: string, port: number) =>
    probeSmtpEndpoint(context(), { host: `a.${MX_ZONE}`, ip, port, role: 'mx' }, { tlsUpgrader: new NodeTlsUpgrader({ ca: ca.cert }) });

  it('should pass the SMTP and STARTTLS probes on 25 and 587', async () => {
    for (const port of [25, 587]) {
      const r = await probe('127.0.3.1', port);
      expect(r.smtp.status).toBe('pass');
      expect(r.starttls).toMatchObject({ status: 'pass', details: { offered: true, handshakeOk: true, trusted: true, nameMatch: true } });
    }
  });

  it('should speak implicit TLS on the 465 stand-in', async () => {
    const r = await probe('127.0.3.1', 465);
    expect(r.smtp.status).toBe('pass');
    expect(r.starttls).toMatchObject({ status: 'pass', details: { implicitTls: true, handshakeOk: true } });
  });

  it('should leave STARTTLS out where the address does not offer it, and refuse closed ports', async () => {
    const r = await probe('127.0.3.2', 25);
    expect(r.starttls).toMatchObject({ reason: 'starttls_not_offered' });
    const closed = await probe('127.0.3.2', 587);
    expect(closed.smtp).toMatchObject({ status: 'pass', reason: 'port_closed_not_required', details: { open: false } });
  });

  it('should count connections, handshakes and QUITs', async () => {
    expect(fleet.stats.connections).toBe(4);
    expect(fleet.stats.tlsHandshakes).toBe(3);
    expect(fleet.stats.quits).toBe(4);
    // readStats (what the benchmark reads, as from FastSmtpShards) is a copy of the same counts.
    const copy = await fleet.readStats();
    expect(copy).toMatchObject({ connections: 4, tlsHandshakes: 3, quits: 4, byPort: { 25: 2, 587: 1, 465: 1 } });
    expect(Object.fromEntries(copy.perListener)).toEqual({ '127.0.3.1:25': 1, '127.0.3.1:587': 1, '127.0.3.1:465': 1, '127.0.3.2:25': 1 });
    expect((await fleet.readStats({ perListener: false })).perListener.size).toBe(0);
  });

  it('should refuse to serve an address outside loopback', async () => {
    await expect(FastSmtpFleet.start([{ ip: '10.0.0.1', open: [25], starttls: true }], { ports, key: '', cert: '', bannerDelayMs: { min: 0, max: 0 } })).rejects.toThrow('loopback');
  });
});
