import { describe, expect, it } from 'vitest';
import type { ProbeResult } from '../probe.types.js';
import { OutboundMonitor } from './outbound-monitor.js';

const smtp = (ip: string, reason: string | undefined, open: boolean, port = 25, role = 'mx'): ProbeResult => ({
  probe: 'smtp',
  target: `mx[${ip}]:${port}`,
  status: open ? 'pass' : 'fail',
  ...(reason ? { reason } : {}),
  startedAt: new Date(),
  durationMs: 1,
  details: { ip, port, role, open },
  observations: open ? [] : [{ code: 'SMTP_PORT_UNREACHABLE', target: `mx[${ip}]:${port}`, params: {} }],
});

describe(OutboundMonitor.name, () => {
  it('should call outbound port 25 blocked when several distinct addresses all time out', () => {
    const m = new OutboundMonitor(3);
    m.observe([smtp('192.0.2.1', 'connect_timeout', false), smtp('192.0.2.2', 'connect_timeout', false)]);
    expect(m.blocked).toBe(false);
    m.observe([smtp('192.0.2.3', 'connect_timeout', false)]);
    expect(m.blocked).toBe(true);
  });

  it('should not call it blocked when any port-25 connection worked or was refused by the target', () => {
    const m = new OutboundMonitor(2);
    m.observe([smtp('192.0.2.1', 'connect_timeout', false), smtp('192.0.2.2', 'connect_timeout', false), smtp('192.0.2.3', 'connect_refused', false)]);
    expect(m.blocked).toBe(false);
    const n = new OutboundMonitor(2);
    n.observe([smtp('192.0.2.1', 'connect_timeout', false), smtp('192.0.2.2', 'connect_timeout', false), smtp('192.0.2.4', undefined, true)]);
    expect(n.blocked).toBe(false);
  });

  it('should ignore submission ports and forget old attempts', () => {
    let now = 0;
    const m = new OutboundMonitor(2, 1000, 200, () => now);
    m.observe([smtp('192.0.2.1', 'connect_timeout', false, 587), smtp('192.0.2.2', 'connect_timeout', false, 587)]);
    expect(m.blocked).toBe(false);
    m.observe([smtp('192.0.2.1', undefined, true)]);
    now = 5000;
    m.observe([smtp('192.0.2.5', 'connect_timeout', false), smtp('192.0.2.6', 'connect_timeout', false)]);
    expect(m.blocked).toBe(true);
  });

  it('should turn port-25 timeouts into untestable results without findings while blocked', () => {
    const m = new OutboundMonitor(2);
    const results = [smtp('192.0.2.1', 'connect_timeout', false), smtp('192.0.2.2', 'connect_timeout', false)];
    expect(m.reclassify(results)).toBe(results);
    m.observe(results);
    const out = m.reclassify(results);
    expect(out.map((r) => [r.status, r.reason, r.observations.length])).toEqual([
      ['untestable', 'outbound_port25_blocked', 0],
      ['untestable', 'outbound_port25_blocked', 0],
    ]);
  });
});
