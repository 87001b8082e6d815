/**
 * A real DNSSEC setup for tests, from Debian's packages: zones signed by ldns-signzone with keys
 * from ldns-keygen, served by unbound's own auth-zone and validated by the same unbound against
 * trust anchors for exactly those zones (no root, nothing leaves loopback).
 *
 * - `signed: true`: the KSK's DS becomes a trust anchor, so answers validate (AD set).
 * - `bogus` lines replace, AFTER signing, the served RRset of their owner and type while the old
 *   signature stays: those names answer SERVFAIL (EDE 6 "DNSSEC Bogus"), and the data with CD=1.
 * - `signed: false`: served without a trust anchor: insecure (no AD), like an unsigned zone.
 * - `forward`: every other name below these suffixes is forwarded to another server (the fake
 *   DNS of the e2e suites), whose answers are insecure.
 * - `validating: false`: unbound without its validator module, for the "our resolver does not
 *   validate" case.
 *
 * Needs the Debian packages `unbound` (unbound, unbound-control) and `ldnsutils`.
 */
import { spawn, execFile, type ChildProcess } from 'node:child_process';
import { createSocket } from 'node:dgram';
import { once } from 'node:events';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import packet from 'dns-packet';

/** TTL of every record and negative answer the rig serves (unbound also caps its cache at 1 s). */
const ZONE_TTL_S = 1;

const run = promisify(execFile);

export interface RigZone {
  /** The zone apex, e.g. `secure.test` (no trailing dot needed). */
  name: string;
  /** Sign it and trust its key. */
  signed: boolean;
  /** Zone file lines (`$ORIGIN` is the zone; relative names allowed). An SOA and NS are added when absent. */
  records: string[];
  /** Absolute-name zone file lines served in place of the signed RRset of the same owner and type. */
  bogus?: string[];
}

export interface DnssecRigOptions {
  zones: RigZone[];
  /** Listen address. Default: a random 127.x.y.z. */
  ip?: string;
  validating?: boolean;
  /** Forward these suffixes (e.g. `test`) to `server` (`ip@port`), UDP. */
  forward?: { suffixes: string[]; server: string };
}

interface ZoneKeys {
  ksk: string;
  zsk: string;
  ds: string;
}

function abs(name: string): string {
  return name.endsWith('.') ? name.toLowerCase() : `${name.toLowerCase()}.`;
}

async function freePort(ip: string): Promise<number> {
  for (let i = 0; i < 20; i++) {
    const server = net.createServer();
    server.listen(0, ip);
    await once(server, 'listening');
    const port = (server.address() as net.AddressInfo).port;
    await new Promise((r) => server.close(r));
    // unbound also needs the UDP port.
    const udp = createSocket('udp4');
    const ok = await new Promise<boolean>((resolve) => {
      udp.once('error', () => resolve(false));
      udp.bind(port, ip, () => resolve(true));
    });
    udp.close();
    if (ok) return port;
  }
  throw new Error(`no free port on ${ip}`);
}

export class DnssecRig {
  private child: ChildProcess | null = null;
  private readonly keys = new Map<string, ZoneKeys>();
  private zones: RigZone[];
  readonly dir: string;
  readonly logFile: string;

  private authChild: ChildProcess | null = null;

  private constructor(
    readonly ip: string,
    readonly port: number,
    private readonly controlPort: number,
    /** With `forward`: the port of a second, authoritative-only unbound serving the zones. */
    private readonly authPort: number | null,
    private readonly options: DnssecRigOptions,
  ) {
    this.dir = mkdtempSync(path.join(tmpdir(), 'mxwatch-dnssec-'));
    this.logFile = path.join(this.dir, 'unbound.log');
    this.zones = options.zones;
  }

  /** `ip@port`, as unbound and dig (`-p`) want it. */
  get server(): string {
    return `${this.ip}@${this.port}`;
  }

  /** `ip:port`, as MXWATCH_DNS_SERVERS wants it. */
  get address(): string {
    return `${this.ip}:${this.port}`;
  }

  static async start(options: DnssecRigOptions): Promise<DnssecRig> {
    const ip = options.ip ?? `127.${20 + Math.floor(Math.random() * 200)}.${Math.floor(Math.random() * 250)}.53`;
    const port = await freePort(ip);
    const controlPort = await freePort(ip);
    const authPort = options.forward ? await freePort(ip) : null;
    const rig = new DnssecRig(ip, port, controlPort, authPort, options);
    try {
      await rig.build();
      await rig.spawn();
    } catch (e) {
      await rig.close();
      throw e;
    }
    return rig;
  }

  /** The key tag and DS of a signed zone (for tests that look at the chain). */
  ds(zone: string): string | undefined {
    return this.keys.get(abs(zone))?.ds;
  }

  /**
   * Replaces the zones (keys of zones kept by name stay the same) and reloads unbound. Returns once
   * every answer given before the call has outlived its TTL (1 s, records and negative answers
   * alike): unbound's cache is flushed by the reload, but a resolver downstream (mxwatch's own
   * cache) may rightly hold a NXDOMAIN for a name the new zones add, as a real one would.
   */
  async setZones(zones: RigZone[]): Promise<void> {
    const staleUntil = Date.now() + ZONE_TTL_S * 1000 + 100;
    this.zones = zones;
    await this.build();
    if (this.authChild) {
      await stop(this.authChild);
      this.authChild = spawn('unbound', ['-d', '-c', path.join(this.dir, 'auth.conf')], { stdio: ['ignore', 'ignore', 'ignore'] });
      await this.waitReady(this.authPort!);
    }
    await run('unbound-control', ['-c', path.join(this.dir, 'unbound.conf'), 'reload'], { timeout: 10_000 });
    await this.waitReady();
    const wait = staleUntil - Date.now();
    if (wait > 0) await new Promise((r) => setTimeout(r, wait));
  }

  private async build(): Promise<void> {
    const anchors: string[] = [];
    const authZones: string[] = [];
    const localZones: string[] = [];
    const stubZones: string[] = [];
    for (const zone of this.zones) {
      const apex = abs(zone.name);
      const file = path.join(this.dir, `${apex}zone`);
      const lines = [`$ORIGIN ${apex}`, `$TTL ${ZONE_TTL_S}`];
      if (!zone.records.some((r) => /\sSOA\s/i.test(` ${r} `))) lines.push(`@ IN SOA ns.${apex} hostmaster.${apex} 1 3600 600 86400 ${ZONE_TTL_S}`);
      if (!zone.records.some((r) => /\sNS\s/i.test(` ${r} `))) lines.push(`@ IN NS ns.${apex}`, `ns IN A 127.0.0.1`);
      lines.push(...zone.records);
      writeFileSync(file, `${lines.join('\n')}\n`);
      let served = file;
      if (zone.signed) {
        let keys = this.keys.get(apex);
        if (!keys) {
          const ksk = (await run('ldns-keygen', ['-a', 'ECDSAP256SHA256', '-k', apex], { cwd: this.dir })).stdout.trim();
          const zsk = (await run('ldns-keygen', ['-a', 'ECDSAP256SHA256', apex], { cwd: this.dir })).stdout.trim();
          keys = { ksk, zsk, ds: readFileSync(path.join(this.dir, `${ksk}.ds`), 'utf8').trim() };
          this.keys.set(apex, keys);
        }
        await run('ldns-signzone', ['-n', '-f', `${file}.signed`, file, keys.ksk, keys.zsk], { cwd: this.dir });
        served = `${file}.signed`;
        if (zone.bogus?.length) writeFileSync(served, tamper(readFileSync(served, 'utf8'), zone.bogus));
        anchors.push(keys.ds);
      } else if (zone.bogus?.length) {
        throw new Error(`zone ${zone.name}: bogus records need a signed zone`);
      }
      localZones.push(`  local-zone: "${apex}" transparent`);
      // With a forward-zone above them, unbound forwards instead of using its own auth zones, and an
      // auth zone served downstream skips validation: so a second unbound serves the zones and the
      // validating one reaches it through stub zones, as it would reach real authoritative servers.
      const viaStub = this.authPort !== null;
      authZones.push(['auth-zone:', `  name: "${apex}"`, `  zonefile: "${served}"`, `  for-upstream: ${viaStub ? 'no' : 'yes'}`, `  for-downstream: ${viaStub ? 'yes' : 'no'}`, '  fallback-enabled: no'].join('\n'));
      if (viaStub) stubZones.push(['stub-zone:', `  name: "${apex}"`, `  stub-addr: ${this.ip}@${this.authPort}`].join('\n'));
    }
    const anchorFile = path.join(this.dir, 'anchors.ds');
    writeFileSync(anchorFile, `${anchors.join('\n')}\n`);
    const forward = this.options.forward;
    const conf = [
      'server:',
      `  interface: ${this.ip}@${this.port}`,
      `  port: ${this.port}`,
      '  do-daemonize: no',
      '  username: ""',
      '  chroot: ""',
      `  directory: "${this.dir}"`,
      '  pidfile: ""',
      '  use-syslog: no',
      `  logfile: "${this.logFile}"`,
      '  verbosity: 1',
      '  access-control: 127.0.0.0/8 allow',
      '  do-ip6: no',
      '  ede: yes',
      '  cache-max-ttl: 1',
      '  cache-max-negative-ttl: 1',
      '  val-log-level: 2',
      // A forward target on loopback must be allowed; nothing else is reached.
      '  do-not-query-localhost: no',
      this.options.validating === false ? '  module-config: "iterator"' : '  module-config: "validator iterator"',
      ...(anchors.length ? [`  trust-anchor-file: "${anchorFile}"`] : []),
      '  local-zone: "." static',
      ...localZones,
      ...(forward?.suffixes.map((s) => `  local-zone: "${abs(s)}" transparent`) ?? []),
      'remote-control:',
      '  control-enable: yes',
      `  control-interface: ${this.ip}`,
      `  control-port: ${this.controlPort}`,
      '  control-use-cert: no',
      ...(this.authPort === null ? authZones : stubZones),
      ...(forward?.suffixes.map((s) => ['forward-zone:', `  name: "${abs(s)}"`, `  forward-addr: ${forward.server}`].join('\n')) ?? []),
    ];
    writeFileSync(path.join(this.dir, 'unbound.conf'), `${conf.join('\n')}\n`);
    await run('unbound-checkconf', [path.join(this.dir, 'unbound.conf')]);
    if (this.authPort !== null) {
      const auth = [
        'server:',
        `  interface: ${this.ip}@${this.authPort}`,
        `  port: ${this.authPort}`,
        '  do-daemonize: no',
        '  username: ""',
        '  chroot: ""',
        `  directory: "${this.dir}"`,
        '  pidfile: ""',
        '  use-syslog: no',
        `  logfile: "${path.join(this.dir, 'auth.log')}"`,
        '  access-control: 127.0.0.0/8 allow',
        '  do-ip6: no',
        '  module-config: "iterator"',
        '  local-zone: "." static',
        ...localZones,
        ...authZones,
      ];
      writeFileSync(path.join(this.dir, 'auth.conf'), `${auth.join('\n')}\n`);
      await run('unbound-checkconf', [path.join(this.dir, 'auth.conf')]);
    }
  }

  private async spawn(): Promise<void> {
    if (this.authPort !== null) {
      this.authChild = spawn('unbound', ['-d', '-c', path.join(this.dir, 'auth.conf')], { stdio: ['ignore', 'ignore', 'ignore'] });
    }
    this.child = spawn('unbound', ['-d', '-c', path.join(this.dir, 'unbound.conf')], { stdio: ['ignore', 'ignore', 'pipe'] });
    let stderr = '';
    this.child.stderr!.on('data', (d: Buffer) => (stderr += d.toString()));
    let ready = false;
    const exited = once(this.child, 'exit').then(() => {
      if (!ready) throw new Error(`unbound exited: ${stderr}${safeRead(this.logFile)}`);
    });
    exited.catch(() => undefined);
    await Promise.race([this.waitReady(), exited]);
    if (this.authPort !== null) await this.waitReady(this.authPort);
    ready = true;
  }

  /** Sends one query until unbound answers (any rcode). */
  private async waitReady(port = this.port): Promise<void> {
    const until = Date.now() + 10_000;
    while (Date.now() < until) {
      if (await this.query('.', 'SOA', {}, port).then(() => true, () => false)) return;
      await new Promise((r) => setTimeout(r, 50));
    }
    throw new Error(`unbound on ${this.address} did not answer: ${safeRead(this.logFile)}`);
  }

  /** A raw query over UDP, for rig self-checks. */
  async query(name: string, type: string, flags: { dnssec?: boolean; cd?: boolean } = {}, port = this.port): Promise<packet.Packet> {
    const socket = createSocket('udp4');
    try {
      const id = Math.floor(Math.random() * 65535);
      const message = packet.encode({
        type: 'query',
        id,
        flags: packet.RECURSION_DESIRED | (flags.cd ? packet.CHECKING_DISABLED : 0),
        questions: [{ type: type as packet.RecordType, name, class: 'IN' }],
        additionals: [{ type: 'OPT', name: '.', udpPayloadSize: 1232, flags: flags.dnssec ? packet.DNSSEC_OK : 0 } as packet.Answer],
      });
      const answer = new Promise<packet.Packet>((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error('timeout')), 1000);
        socket.on('message', (msg) => {
          const p = packet.decode(msg);
          if (p.id === id) {
            clearTimeout(timer);
            resolve(p);
          }
        });
      });
      socket.send(message, port, this.ip);
      return await answer;
    } finally {
      socket.close();
    }
  }

  async close(): Promise<void> {
    const children = [this.child, this.authChild];
    this.child = null;
    this.authChild = null;
    await Promise.all(children.map((c) => (c ? stop(c) : undefined)));
    rmSync(this.dir, { recursive: true, force: true });
  }
}

async function stop(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = once(child, 'exit');
  child.kill('SIGTERM');
  await Promise.race([exited, new Promise((r) => setTimeout(r, 3000))]);
  if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
}

function safeRead(file: string): string {
  try {
    return readFileSync(file, 'utf8').slice(-2000);
  } catch {
    return '';
  }
}

/** Drops the signed RRsets the bogus lines name (owner and type) and serves the bogus data instead. */
function tamper(signed: string, bogus: string[]): string {
  const targets = bogus.map((line) => {
    const f = line.trim().split(/\s+/);
    const typeIndex = f.findIndex((x, i) => i > 0 && /^[A-Z][A-Z0-9]*$/.test(x) && x !== 'IN' && x !== 'CH');
    if (typeIndex < 0 || !f[0]!.endsWith('.')) throw new Error(`bogus line "${line}" needs an absolute owner and a type`);
    return { owner: f[0]!.toLowerCase(), type: f[typeIndex]! };
  });
  const kept = signed.split('\n').filter((line) => {
    const f = line.trim().split(/\s+/);
    if (f.length < 4) return true;
    const owner = f[0]!.toLowerCase();
    const type = f[3]!;
    return !targets.some((t) => t.owner === owner && t.type === type);
  });
  return `${[...kept, ...bogus].join('\n')}\n`;
}
