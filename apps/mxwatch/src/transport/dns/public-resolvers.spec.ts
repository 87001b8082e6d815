import { describe, expect, it } from 'vitest';
import { isKnownPublicResolver } from './public-resolvers.js';

describe(isKnownPublicResolver.name, () => {
  it.each([
    [['1.1.1.1'], 'Cloudflare'],
    [['1.0.0.1:53'], 'Cloudflare'],
    [['[2606:4700:4700::1111]:443'], 'Cloudflare'],
    [['cloudflare-dns.com:443'], 'Cloudflare'],
    [['8.8.8.8'], 'Google'],
    [['2001:4860:4860::8844'], 'Google'],
    [['dns.google'], 'Google'],
    [['9.9.9.9'], 'Quad9'],
    [['149.112.112.112'], 'Quad9'],
    [['[2620:fe::fe]:53'], 'Quad9'],
    [['208.67.222.222'], 'OpenDNS'],
    [['2620:119:35::35'], 'OpenDNS'],
    [['94.140.14.14'], 'AdGuard'],
    [['2a10:50c0::ad1:ff'], 'AdGuard'],
    [['https://dns.adguard-dns.com/dns-query'], 'AdGuard'],
    [['abc123.dns.nextdns.io:443'], 'NextDNS'],
    [['::ffff:8.8.4.4'], 'Google'],
    [['127.0.0.1', '9.9.9.9'], 'Quad9'],
  ])('should name the public resolver in %j', (servers, name) => {
    expect(isKnownPublicResolver(servers)).toBe(name);
  });

  it.each([[['127.0.0.53']], [['192.168.1.1:53']], [['unbound.internal:443']], [['[::1]:53']], [['8.8.8.9']], [['1.1.2.1']], [[]]])(
    'should not call an own resolver %j public',
    (servers) => {
      expect(isKnownPublicResolver(servers)).toBeNull();
    },
  );
});
