import { describe, expect, it } from 'vitest';
import { closestName, editDistance } from './closest-name.js';

describe(closestName.name, () => {
  const env = ['MXWATCH_DNS_SERVERS', 'MXWATCH_DNS_PROTOCOL', 'MXWATCH_DNSBL_DNS_SERVERS', 'MXWATCH_DNSBL_DNS_PROTOCOL', 'MXWATCH_ROLE', 'MXWATCH_API_TOKEN'];
  const yaml = ['dnsServers', 'dnsProtocol', 'dnsblDnsServers', 'checkInterval'];

  it.each<[string, readonly string[], string | undefined]>([
    ['MXWATCH_DNS_SERVER', env, 'MXWATCH_DNS_SERVERS'],
    ['mxwatch_dns_servers', env, 'MXWATCH_DNS_SERVERS'],
    ['MXWATCH_DNSBL_PROTOCOL', env, 'MXWATCH_DNSBL_DNS_PROTOCOL'],
    ['MXWATCH_DNSBL_SERVERS', env, 'MXWATCH_DNSBL_DNS_SERVERS'],
    ['MXWATCH_MODE', env, undefined],
    ['MXWATCH_COLOUR', env, undefined],
    ['dnsServer', yaml, 'dnsServers'],
    ['dnsblServers', yaml, 'dnsblDnsServers'],
    ['checkIntervall', yaml, 'checkInterval'],
    ['colour', yaml, undefined],
  ])('should suggest for %s: %s', (name, known, expected) => {
    expect(closestName(name, known)).toBe(expected);
  });

  it('should count insertions, deletions and substitutions', () => {
    expect(editDistance('kitten', 'sitting')).toBe(3);
    expect(editDistance('', 'abc')).toBe(3);
    expect(editDistance('same', 'same')).toBe(0);
  });
});
