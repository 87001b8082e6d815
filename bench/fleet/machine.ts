/**
 * What the whole machine did during the cycle, to tell "mxwatch is slow" from "the cores were
 * busy": busy and idle time of every core (/proc/stat), and the CPU of the PostgreSQL and Redis
 * servers (every process of that name, whatever database or key prefix it served).
 */
import { readdirSync, readFileSync } from 'node:fs';

/** USER_HZ: 100 on every Linux this runs on. */
const CLOCK_TICKS = 100;

export interface MachineCpu {
  /** ms of CPU time spent busy (user, nice, system, irq, softirq, steal) and idle (idle, iowait), all cores. */
  busyMs: number;
  idleMs: number;
}

export function machineCpu(): MachineCpu {
  const line = readFileSync('/proc/stat', 'utf8').split('\n')[0]!;
  const [user, nice, system, idle, iowait, irq, softirq, steal] = line.trim().split(/\s+/).slice(1).map(Number) as number[];
  const ms = (ticks: number) => (ticks * 1000) / CLOCK_TICKS;
  return { busyMs: ms(user! + nice! + system! + irq! + softirq! + (steal ?? 0)), idleMs: ms(idle! + iowait!) };
}

/**
 * CPU (ms) used so far by the live processes whose command name is one of `names`, by name, with
 * the CPU of their children that ended and were waited for (a PostgreSQL backend that closed is
 * counted in its postmaster's). Without the latter a span in which the service's idle
 * connections closed came out negative.
 */
export function cpuByCommand(names: readonly string[]): Record<string, number> {
  const out: Record<string, number> = Object.fromEntries(names.map((n) => [n, 0]));
  for (const pid of readdirSync('/proc')) {
    if (!/^\d+$/.test(pid)) continue;
    try {
      const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
      const comm = stat.slice(stat.indexOf('(') + 1, stat.lastIndexOf(')'));
      const name = names.find((n) => comm.startsWith(n));
      if (!name) continue;
      const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      // utime, stime, cutime, cstime (proc(5)).
      out[name]! += ((Number(fields[11]) + Number(fields[12]) + Number(fields[13]) + Number(fields[14])) * 1000) / CLOCK_TICKS;
    } catch {
      // gone meanwhile
    }
  }
  return out;
}
