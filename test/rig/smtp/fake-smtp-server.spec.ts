import net from 'node:net';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { FAKE_SMTP_BEHAVIOURS, fakeSmtpActivity, type FakeSmtpBehaviour, type FakeSmtpServer, startFakeSmtp } from './fake-smtp-server.js';

const servers: FakeSmtpServer[] = [];
afterEach(async () => {
  await Promise.all(servers.splice(0).map((s) => s.close()));
});

/** First bytes a plain TCP client sees within `ms` (null when the connection is refused). */
function firstBytes(ip: string, port: number, ms = 600): Promise<string | null> {
  return new Promise((resolve) => {
    const s = net.connect({ host: ip, port });
    let got = '';
    const done = (v: string | null) => {
      clearTimeout(t);
      s.destroy();
      resolve(v);
    };
    const t = setTimeout(() => done(got), ms);
    s.on('data', (d) => {
      got += d.toString('latin1');
      if (got.length > 64 || /\r\n$/.test(got)) done(got);
    });
    s.on('error', () => done(null));
  });
}

const EXPECTED_START: Record<FakeSmtpBehaviour, RegExp | null | ''> = {
  good: /^220 /,
  'no-starttls': /^220 /,
  'expired-cert': /^220 /,
  'expiring-cert': /^220 /,
  'self-signed': /^220 /,
  'self-signed-expired': /^220 /,
  'wrong-name': /^220 /,
  'tls10-only': /^220 /,
  'auth-before-tls': /^220 /,
  // TLS first: a plaintext reader sees nothing readable as SMTP
  'implicit-tls': '',
  'multiline-banner': /^220-/,
  'starttls-last': /^220 /,
  'starttls-injection': /^220 /,
  'starttls-454': /^220 /,
  'ehlo-rejected': /^220 /,
  'reject-421': /^421 /,
  'reject-554': /^554 /,
  'slow-banner': /^220 /,
  'garbage-binary': /^\x00/,
  'garbage-no-crlf': /^220 mx\.test AAAA/,
  endless: /^220-mx\.test still talking/,
  silent: '',
  closed: null,
};

describe(startFakeSmtp.name, () => {
  it.each(FAKE_SMTP_BEHAVIOURS)('should start the %s behaviour on a loopback address', async (behaviour) => {
    const server = await startFakeSmtp({ behaviour, host: '127.0.0.4', hostname: 'mx.test', bannerDelayMs: 50 });
    servers.push(server);
    expect(server.ip).toBe('127.0.0.4');
    expect(server.port).toBeGreaterThan(0);
    const got = await firstBytes(server.ip, server.port);
    const expected = EXPECTED_START[behaviour];
    if (expected === null) expect(got).toBeNull();
    else if (expected === '') expect(got).toBe('');
    else expect(got).toMatch(expected);
  });

  it('should record a client that talks before the banner', async () => {
    const server = await startFakeSmtp({ behaviour: 'slow-banner', host: '127.0.0.4', bannerDelayMs: 300 });
    servers.push(server);
    const s = net.connect({ host: server.ip, port: server.port });
    s.on('error', () => undefined);
    await new Promise((r) => s.once('connect', r));
    s.write('EHLO early\r\n');
    await new Promise((r) => setTimeout(r, 400));
    s.destroy();
    expect(server.pregreet).toBe(true);
  });
});

describe('fakeSmtpActivity', () => {
  afterEach(() => {
    vi.restoreAllMocks();
    fakeSmtpActivity.resetAt = null;
    fakeSmtpActivity.spans.clear();
  });

  it('should count the most connections open at once since the reset, each once it settled, and not the one-for-one swap of a limit', () => {
    fakeSmtpActivity.spans.clear(); // connections of the tests above, on the real clock
    let now = 1_000;
    vi.spyOn(performance, 'now').mockImplementation(() => now);
    fakeSmtpActivity.opened(); // left open by an earlier suite: not counted
    now = 1_001;
    fakeSmtpActivity.resetPeak();
    const a = fakeSmtpActivity.opened();
    fakeSmtpActivity.opened();
    fakeSmtpActivity.opened();
    now = 2_500;
    // The EOF of a and the accept of d read in one batch, in the wrong order: still 3 at once.
    fakeSmtpActivity.opened();
    now = 2_510;
    a();
    now = 3_000;
    expect(fakeSmtpActivity.peakSinceReset).toBe(3);
    // A fourth held alongside three for longer than the settling time is a fourth.
    fakeSmtpActivity.opened();
    now = 4_000;
    expect(fakeSmtpActivity.peakSinceReset).toBe(4);
  });
});
