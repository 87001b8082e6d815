/**
 * The DoH server of bench/doh.bench.ts, in a process of its own (forked, with an IPC channel) so
 * that its CPU is not counted with the resolver's: the project's FakeDnsServer, with
 * `h<i>.bench.test A 127.9.x.y` for i < argv[2], over plain HTTP (argv[3] `http`) or over https
 * with HTTP/2 offered, as the public resolvers speak it (argv[3] `https`, a certificate from a CA
 * made here). It sends `{ address, ca }` (ca: the CA's PEM for https) and exits when the parent
 * goes away.
 */
import { FakeDnsServer, type FakeZone } from '../../test/rig/dns/fake-dns-server.js';
import { createTestCa } from '../../test/rig/tls/test-ca.js';

if (!process.send) {
  console.error('fake-doh-child: start me through bench/doh.bench.ts (child_process.fork with IPC)');
  process.exit(2);
}
process.on('disconnect', () => process.exit(0));

const names = Number(process.argv[2] ?? 100_000);
const zone: FakeZone = {};
for (let i = 0; i < names; i++) zone[`h${i}.bench.test`] = { A: [`127.9.${(i >> 8) & 255}.${i & 255}`] };
const https = process.argv[3] === 'https';
const ca = https ? await createTestCa({ commonName: 'mxwatch DoH bench CA', keyType: 'ec' }) : null;
const leaf = ca ? await ca.issue({ commonName: '127.0.0.1', altNames: ['127.0.0.1'] }) : null;
const server = await FakeDnsServer.start({ udp: false, tcp: false, ...(leaf ? { https: { key: leaf.key, cert: leaf.cert }, http2: true } : {}) });
server.setZone(zone);
process.send({ address: https ? server.httpsAddress : server.httpAddress, ca: ca?.cert ?? null });
