/**
 * The DoH server of bench/doh.bench.ts, in a process of its own (forked, with an IPC channel) so
 * that its CPU is not counted with the resolver's: the project's FakeDnsServer over plain HTTP,
 * with `h<i>.bench.test A 127.9.x.y` for i < argv[2]. It sends its `host:port` and exits when the
 * parent goes away.
 */
import { FakeDnsServer, type FakeZone } from '../../test/rig/dns/fake-dns-server.js';

if (!process.send) {
  console.error('fake-doh-child: start me through bench/doh.bench.ts (child_process.fork with IPC)');
  process.exit(2);
}
process.on('disconnect', () => process.exit(0));

const names = Number(process.argv[2] ?? 100_000);
const zone: FakeZone = {};
for (let i = 0; i < names; i++) zone[`h${i}.bench.test`] = { A: [`127.9.${(i >> 8) & 255}.${i & 255}`] };
const server = await FakeDnsServer.start({ udp: false, tcp: false });
server.setZone(zone);
process.send(server.httpAddress);
