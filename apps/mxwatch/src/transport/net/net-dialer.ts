import net from 'node:net';
import { performance } from 'node:perf_hooks';
import type { AddressPolicyLike, DialOptions, DialResult, Dialer } from '../transport.types.js';

/**
 * Parses MXWATCH_PORT_MAP (`25:2525,587:2587`). Empty input means no remapping.
 * Throws with the offending item so a bad config fails at boot, not at the first probe.
 */
export function parsePortMap(spec: string | undefined): Map<number, number> {
  const map = new Map<number, number>();
  if (!spec || !spec.trim()) return map;
  for (const raw of spec.split(',')) {
    const item = raw.trim();
    if (!item) throw new Error(`port map "${spec}" has an empty item`);
    const m = /^(\d+):(\d+)$/.exec(item);
    if (!m) throw new Error(`port map item "${item}" is not <probed port>:<dialled port>`);
    const from = Number(m[1]);
    const to = Number(m[2]);
    for (const p of [from, to]) {
      if (p < 1 || p > 65535) throw new Error(`port map item "${item}": ${p} is not a port (1-65535)`);
    }
    if (map.has(from)) throw new Error(`port map maps port ${from} twice`);
    map.set(from, to);
  }
  return map;
}

export interface NetDialerOptions {
  policy: AddressPolicyLike;
  portMap?: Map<number, number>;
}

const UNREACHABLE = new Set(['EHOSTUNREACH', 'ENETUNREACH', 'EHOSTDOWN', 'ENETDOWN', 'EADDRNOTAVAIL']);

export class NetDialer implements Dialer {
  private readonly policy: AddressPolicyLike;
  private readonly portMap: Map<number, number>;

  constructor(options: NetDialerOptions) {
    this.policy = options.policy;
    this.portMap = options.portMap ?? new Map();
  }

  dial(options: DialOptions): Promise<DialResult> {
    const { ip, port, deadline, signal } = options;
    if (net.isIP(ip) === 0) return Promise.resolve({ ok: false, error: 'error', cause: `"${ip}" is not an IP address literal` });
    // Checked before any packet leaves: a monitored domain must not turn us into a scanner of our own network.
    const range = this.policy.forbiddenRange(ip);
    if (range !== null) {
      return Promise.resolve({ ok: false, error: 'forbidden', cause: `${ip} is in a ${range} range, not allowed by MXWATCH_ALLOW_PRIVATE_TARGETS` });
    }
    if (!Number.isInteger(port) || port < 1 || port > 65535) return Promise.resolve({ ok: false, error: 'error', cause: `invalid port ${port}` });
    const actualPort = this.portMap.get(port) ?? port;
    if (signal?.aborted) return Promise.resolve({ ok: false, error: 'error', cause: 'aborted' });
    const budget = deadline - Date.now();
    if (budget <= 0) return Promise.resolve({ ok: false, error: 'timeout', cause: 'no time left before the deadline' });

    return new Promise<DialResult>((resolve) => {
      const started = performance.now();
      const socket = net.connect({ host: ip, port: actualPort });
      let settled = false;
      const finish = (result: DialResult) => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        signal?.removeEventListener('abort', onAbort);
        socket.removeListener('connect', onConnect);
        socket.removeListener('error', onError);
        if (!result.ok) socket.destroy();
        resolve(result);
      };
      const onConnect = () => {
        // A late socket error must never crash the process; the owner attaches its own handlers and sees 'close'.
        socket.on('error', () => undefined);
        finish({ ok: true, socket, connectMs: Math.round(performance.now() - started), actualPort });
      };
      const onError = (err: NodeJS.ErrnoException) => {
        const code = err.code ?? 'UNKNOWN';
        const cause = `${code} ${ip}:${actualPort}`;
        if (code === 'ECONNREFUSED') finish({ ok: false, error: 'refused', cause });
        else if (code === 'ETIMEDOUT') finish({ ok: false, error: 'timeout', cause });
        else if (UNREACHABLE.has(code)) finish({ ok: false, error: 'unreachable', cause });
        else finish({ ok: false, error: 'error', cause: `${cause}: ${err.message}` });
      };
      const onAbort = () => finish({ ok: false, error: 'error', cause: 'aborted' });
      const timer = setTimeout(() => finish({ ok: false, error: 'timeout', cause: `no answer from ${ip}:${actualPort} within ${budget} ms` }), budget);
      socket.once('connect', onConnect);
      socket.once('error', onError);
      signal?.addEventListener('abort', onAbort, { once: true });
    });
  }
}
