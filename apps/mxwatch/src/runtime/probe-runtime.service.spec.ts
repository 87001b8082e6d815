import { describe, expect, it } from 'vitest';
import { AddressPolicy } from '../transport/net/address-policy.js';
import { loadConfig } from '../config/load-config.js';
import { MemoizedAddressPolicy, ProbeRuntime, sharedDnsblResolver } from './probe-runtime.service.js';

describe(MemoizedAddressPolicy.name, () => {
  it('should answer as the policy it wraps, asking it once per address', () => {
    const policy = AddressPolicy.fromList('127.0.0.0/8');
    let asked = 0;
    const counting = { forbiddenRange: (ip: string) => (asked++, policy.forbiddenRange(ip)) };
    const memo = new MemoizedAddressPolicy(counting);
    for (let round = 0; round < 3; round++) {
      for (const ip of ['127.1.2.3', '10.0.0.1', '192.0.2.1', '8.8.8.8', 'not-an-ip', '::1']) expect(memo.forbiddenRange(ip)).toBe(policy.forbiddenRange(ip));
    }
    expect(asked).toBe(6);
  });

  it('should stay bounded', () => {
    const memo = new MemoizedAddressPolicy(AddressPolicy.fromList(undefined), 10);
    for (let i = 0; i < 25; i++) memo.forbiddenRange(`203.0.113.${i}`);
    expect((memo as unknown as { answers: Map<string, unknown> }).answers.size).toBeLessThanOrEqual(10);
    expect(memo.forbiddenRange('203.0.113.1')).toBe('documentation');
  });
});

describe(ProbeRuntime.name, () => {
  it('should let every lookup and dial of a check listen on its signal without a MaxListenersExceededWarning', async () => {
    const runtime = new ProbeRuntime(loadConfig({ env: {} }));
    const { ctx, dispose } = runtime.context();
    const warnings: Error[] = [];
    const onWarning = (w: Error) => warnings.push(w);
    process.on('warning', onWarning);
    try {
      for (let i = 0; i < 200; i++) ctx.signal.addEventListener('abort', () => undefined, { once: true });
      await new Promise((r) => setImmediate(r));
      expect(warnings.filter((w) => w.name === 'MaxListenersExceededWarning')).toEqual([]);
    } finally {
      process.off('warning', onWarning);
      dispose();
    }
  });
});

describe(sharedDnsblResolver.name, () => {
  it('should presume a known public resolver by its address only with auto', () => {
    expect(sharedDnsblResolver('auto', ['1.1.1.1', '1.0.0.1'])).toBe('Cloudflare');
    expect(sharedDnsblResolver('auto', ['10.0.0.53'])).toBeNull();
    expect(sharedDnsblResolver(false, ['8.8.8.8'])).toBeNull();
  });

  it('should treat any resolver as shared when the operator declares it (an ISP\'s resolver)', () => {
    expect(sharedDnsblResolver(true, ['10.0.0.53', '10.0.0.54:5353'])).toBe('10.0.0.53, 10.0.0.54:5353, declared shared by MXWATCH_DNSBL_RESOLVER_SHARED');
    expect(sharedDnsblResolver(true, ['9.9.9.9'])).toBe('Quad9, declared shared by MXWATCH_DNSBL_RESOLVER_SHARED');
  });

  it('should hand the probes what the setting decided, and the servers to name in a finding', () => {
    const servers = { MXWATCH_DNSBL_DNS_SERVERS: '127.0.0.53', MXWATCH_DNSBL_DNS_PROTOCOL: 'udp' };
    const runtime = (env: Record<string, string>) => new ProbeRuntime(loadConfig({ env: { ...servers, ...env } }));
    for (const [env, presumed] of [[{}, null], [{ MXWATCH_DNSBL_RESOLVER_SHARED: 'true' }, '127.0.0.53, declared shared by MXWATCH_DNSBL_RESOLVER_SHARED']] as const) {
      const r = runtime(env);
      try {
        expect(r.settings).toMatchObject({ dnsblResolverPublic: presumed, dnsblResolverName: '127.0.0.53' });
      } finally {
        r.onApplicationShutdown();
      }
    }
  });
});
