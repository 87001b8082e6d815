import type { ProbeResult } from '../probe.types.js';

interface Attempt {
  ip: string;
  at: number;
  timedOut: boolean;
}

/**
 * Many cloud networks drop outbound port 25. Then every MX looks dead, and reporting each
 * domain as broken would be a false alarm on the whole fleet. When the recent port-25 attempts
 * to several distinct addresses all timed out and none connected, the fault is on our side: the
 * monitor says so (mxwatch_smtp_outbound_blocked) and those results become untestable.
 */
export class OutboundMonitor {
  private readonly attempts: Attempt[] = [];

  constructor(
    /** distinct addresses that must all have timed out */
    private readonly minDistinct = 5,
    private readonly windowMs = 30 * 60 * 1000,
    private readonly maxAttempts = 200,
    private readonly now: () => number = Date.now,
  ) {}

  /** Records the port-25 outcomes of one check (MX role only: submission ports are not port 25). */
  observe(results: ProbeResult[]): void {
    const t = this.now();
    for (const r of results) {
      if (r.probe !== 'smtp') continue;
      const d = r.details as { ip?: string; port?: number; role?: string; open?: boolean };
      if (d.port !== 25 || d.role !== 'mx' || !d.ip) continue;
      if (r.reason === 'target_forbidden' || r.reason === 'network_unreachable' || r.reason === 'deadline_exceeded') continue;
      const timedOut = d.open === false && (r.reason === 'connect_timeout' || r.reason === 'outbound_port25_blocked');
      this.attempts.push({ ip: d.ip, at: t, timedOut });
    }
    const cutoff = t - this.windowMs;
    while (this.attempts.length > 0 && (this.attempts.length > this.maxAttempts || this.attempts[0]!.at < cutoff)) this.attempts.shift();
  }

  get blocked(): boolean {
    if (this.attempts.some((a) => !a.timedOut)) return false;
    return new Set(this.attempts.map((a) => a.ip)).size >= this.minDistinct;
  }

  /** While blocked, a port-25 connect timeout says nothing about the target: mark it untestable. */
  reclassify(results: ProbeResult[]): ProbeResult[] {
    if (!this.blocked) return results;
    return results.map((r) => {
      const d = r.details as { port?: number; role?: string };
      if (r.probe === 'smtp' && d.port === 25 && d.role === 'mx' && r.reason === 'connect_timeout') {
        return { ...r, status: 'untestable', reason: 'outbound_port25_blocked', observations: [] };
      }
      return r;
    });
  }
}
