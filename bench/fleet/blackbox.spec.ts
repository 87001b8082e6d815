import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestCa } from '../../test/rig/tls/test-ca.js';
import { BLACKBOX_BIN, blackboxConfig, startBlackbox, type RunningBlackbox } from './blackbox.js';
import { FastSmtpFleet, pickPorts } from './fast-smtp.js';
import { MX_ZONE } from './fleet-model.js';

// The side by side needs the Debian package; without it the benchmark says it skipped.
describe.skipIf(!existsSync(BLACKBOX_BIN))('blackbox_exporter side by side', () => {
  const host = `bench.${MX_ZONE}`;
  let tmp: string;
  let fleet: FastSmtpFleet;
  let blackbox: RunningBlackbox;
  let port: number;

  beforeAll(async () => {
    tmp = mkdtempSync(path.join(tmpdir(), 'mxwatch-blackbox-'));
    const ca = await createTestCa({ keyType: 'ec' });
    const leaf = await ca.issue({ commonName: MX_ZONE, altNames: [`*.${MX_ZONE}`] });
    writeFileSync(path.join(tmp, 'ca.pem'), ca.cert);
    const ports = await pickPorts();
    port = ports[25];
    fleet = await FastSmtpFleet.start(
      [
        { ip: '127.0.98.1', open: [25], starttls: true },
        { ip: '127.0.98.2', open: [25], starttls: false },
      ],
      { ports, key: leaf.key, cert: leaf.cert, bannerDelayMs: { min: 0, max: 1 }, hostname: host },
    );
    blackbox = await startBlackbox(BLACKBOX_BIN, blackboxConfig(path.join(tmp, 'ca.pem'), host, 'probe.test', 1), tmp);
  });

  afterAll(async () => {
    await blackbox?.stop();
    await fleet?.close();
    rmSync(tmp, { recursive: true, force: true });
  });

  it('should hold the whole STARTTLS conversation with the fast server, certificate verified', async () => {
    const before = { ...fleet.stats };
    expect(await blackbox.probe(`127.0.98.1:${port}`)).toBe(true);
    expect(fleet.stats.tlsHandshakes - before.tlsHandshakes).toBe(1);
    expect(fleet.stats.quits - before.quits).toBe(1);
  });

  it('should fail where the server offers no STARTTLS', async () => {
    expect(await blackbox.probe(`127.0.98.2:${port}`)).toContain('probe_success 0');
  });
});
