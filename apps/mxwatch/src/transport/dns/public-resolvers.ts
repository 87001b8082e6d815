/**
 * The well-known public resolvers. DNSBL operators (Spamhaus, Barracuda, SURBL, URIBL, ...) refuse
 * or mis-answer queries that arrive through them, because one public resolver speaks for millions
 * of clients: list queries through one are not a fact about the monitored domain.
 */
import ipaddr from 'ipaddr.js';

/** [operator, CIDR ranges of their anycast resolver addresses, their DoH/DoT host names]. */
const PUBLIC_RESOLVERS: ReadonlyArray<readonly [string, readonly string[], readonly string[]]> = [
  [
    'Cloudflare',
    ['1.1.1.0/24', '1.0.0.0/24', '2606:4700:4700::/48'],
    ['cloudflare-dns.com', 'one.one.one.one', '1dot1dot1dot1.cloudflare-dns.com', 'security.cloudflare-dns.com', 'family.cloudflare-dns.com', 'mozilla.cloudflare-dns.com'],
  ],
  ['Google', ['8.8.8.8/32', '8.8.4.4/32', '2001:4860:4860::/48'], ['dns.google', 'dns.google.com', '8888.google']],
  [
    'Quad9',
    ['9.9.9.0/24', '149.112.112.0/24', '2620:fe::/48'],
    ['dns.quad9.net', 'dns9.quad9.net', 'dns10.quad9.net', 'dns11.quad9.net', 'dns12.quad9.net'],
  ],
  [
    'OpenDNS',
    ['208.67.216.0/21', '2620:119:35::/48', '2620:119:53::/48', '2620:0:ccc::/48', '2620:0:ccd::/48'],
    ['doh.opendns.com', 'dns.opendns.com', 'doh.familyshield.opendns.com', 'familyshield.opendns.com'],
  ],
  [
    'AdGuard',
    ['94.140.14.0/24', '94.140.15.0/24', '2a10:50c0::/32'],
    ['dns.adguard-dns.com', 'dns.adguard.com', 'unfiltered.adguard-dns.com', 'family.adguard-dns.com', 'dns-unfiltered.adguard.com', 'dns-family.adguard.com'],
  ],
  ['CleanBrowsing', ['185.228.168.0/24', '185.228.169.0/24', '2a0d:2a00::/32'], ['doh.cleanbrowsing.org']],
  ['NextDNS', ['45.90.28.0/24', '45.90.30.0/24', '2a07:a8c0::/32', '2a07:a8c1::/32'], ['dns.nextdns.io']],
  ['Control D', ['76.76.2.0/24', '76.76.10.0/24', '2606:1a40::/32'], ['freedns.controld.com', 'dns.controld.com']],
  ['Level3', ['4.2.2.1/32', '4.2.2.2/32', '4.2.2.3/32', '4.2.2.4/32', '4.2.2.5/32', '4.2.2.6/32'], []],
  ['Verisign', ['64.6.64.6/32', '64.6.65.6/32', '2620:74:1b::1:1/128', '2620:74:1c::2:2/128'], []],
  ['Yandex', ['77.88.8.0/24', '2a02:6b8::feed:0ff/128', '2a02:6b8:0:1::feed:0ff/128', '2a02:6b8::feed:bad/128', '2a02:6b8:0:1::feed:bad/128'], ['common.dot.dns.yandex.net']],
  ['Comodo', ['8.26.56.26/32', '8.20.247.20/32'], []],
  ['DNS.WATCH', ['84.200.69.80/32', '84.200.70.40/32', '2001:1608:10:25::1c04:b12f/128', '2001:1608:10:25::9249:d69b/128'], ['resolver1.dns.watch', 'resolver2.dns.watch']],
  ['Hurricane Electric', ['74.82.42.42/32', '2001:470:20::2/128'], ['ordns.he.net']],
  ['Mullvad', ['194.242.2.0/24', '2a07:e340::/32'], ['dns.mullvad.net', 'adblock.dns.mullvad.net', 'base.dns.mullvad.net']],
  ['DNS0.EU', ['193.110.81.0/24', '185.253.5.0/24', '2a0f:fc80::/32', '2a0f:fc81::/32'], ['dns0.eu', 'zero.dns0.eu']],
  ['Alibaba', ['223.5.5.5/32', '223.6.6.6/32', '2400:3200::1/128', '2400:3200:baba::1/128'], ['dns.alidns.com']],
  ['114DNS', ['114.114.114.114/32', '114.114.115.115/32'], []],
  ['DNSPod', ['119.29.29.29/32', '119.28.28.28/32'], ['doh.pub', 'dot.pub']],
];

const RANGES: Array<{ name: string; range: [ipaddr.IPv4 | ipaddr.IPv6, number] }> = PUBLIC_RESOLVERS.flatMap(([name, cidrs]) =>
  cidrs.map((cidr) => ({ name, range: ipaddr.parseCIDR(cidr) })),
);
const HOSTS = new Map<string, string>(PUBLIC_RESOLVERS.flatMap(([name, , hosts]) => hosts.map((h) => [h, name] as [string, string])));

/** The host part of a server as configured: `ip`, `ip:port`, `[ipv6]:port`, `host:port`, a bare IPv6 address or a URL. */
function hostOf(server: string): string {
  let s = server.trim().toLowerCase();
  const url = /^[a-z][a-z0-9+.-]*:\/\/([^/?#]+)/.exec(s);
  if (url) s = url[1];
  const bracketed = /^\[([^\]]+)\](?::\d+)?$/.exec(s);
  if (bracketed) return bracketed[1];
  if (ipaddr.isValid(s)) return s;
  const hostPort = /^([^:]+):\d+$/.exec(s);
  if (hostPort) return hostPort[1];
  return s.replace(/\.$/, '');
}

/**
 * The operator of the first known public resolver among `servers` ("Cloudflare", "Google",
 * "Quad9", "OpenDNS", "AdGuard", ...), or null when none is one (an own unbound, a private
 * address, `system` already resolved to its nameservers by the caller).
 */
export function isKnownPublicResolver(servers: readonly string[]): string | null {
  for (const server of servers) {
    const host = hostOf(server);
    if (ipaddr.isValid(host)) {
      let addr = ipaddr.parse(host);
      if (addr.kind() === 'ipv6' && (addr as ipaddr.IPv6).isIPv4MappedAddress()) addr = (addr as ipaddr.IPv6).toIPv4Address();
      for (const { name, range } of RANGES) {
        if (range[0].kind() === addr.kind() && addr.match(range)) return name;
      }
      continue;
    }
    const byHost = HOSTS.get(host);
    if (byHost) return byHost;
    // NextDNS and similar hand every customer a sub-domain of their service name.
    for (const [known, name] of HOSTS) if (host.endsWith(`.${known}`)) return name;
  }
  return null;
}
