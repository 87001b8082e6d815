/**
 * The one list of registered probes, like blackbox_exporter's `Probers` map. Adding a probe is
 * its folder under probes/ plus one import and one line here; nothing else in the runner,
 * findings rules, metrics or config names a probe.
 */
import { dnsblProbe } from './dnsbl/dnsbl.definition.js';
import { mxProbe } from './mx/mx.definition.js';
import { bimiProbe } from './bimi/bimi.probe.js';
import { dkimProbe } from './dkim/dkim.probe.js';
import { dmarcProbe } from './dmarc/dmarc.probe.js';
import { ptrProbe } from './ptr/ptr.probe.js';
import { spfProbe } from './spf/spf.probe.js';
import type { ProbeDefinition } from './probe-definition.js';
import { smtpProbe } from './smtp/smtp.definition.js';
import { starttlsProbe } from './starttls/starttls.definition.js';
import { mtaStsProbe } from './mta-sts/mta-sts.probe.js';
import { tlsRptProbe } from './tls-rpt/tls-rpt.probe.js';
import { dnssecProbe } from './dnssec/dnssec.probe.js';
import { daneProbe } from './dane/dane.probe.js';

export const PROBES: readonly ProbeDefinition[] = [
  mxProbe,
  smtpProbe,
  starttlsProbe,
  dnsblProbe,
  spfProbe,
  dmarcProbe,
  dkimProbe,
  ptrProbe,
  bimiProbe,
  mtaStsProbe,
  tlsRptProbe,
  dnssecProbe,
  daneProbe,
];

/** The registered probe names, in registry order (REST filters, metric labels). */
export const PROBE_NAMES: readonly string[] = PROBES.map((p) => p.name);

export function probeByName(name: string): ProbeDefinition | undefined {
  return PROBES.find((p) => p.name === name);
}

/**
 * The registered probes named, plus every probe they need (transitively), in registry order;
 * all of them when none is named (MXWATCH_PROBES, `mxwatch check --probes`). An unknown name throws.
 */
export function selectProbes(registry: readonly ProbeDefinition[], names: readonly string[]): ProbeDefinition[] {
  if (names.length === 0) return [...registry];
  const unknown = names.filter((n) => !registry.some((p) => p.name === n));
  if (unknown.length) throw new Error(`unknown probe ${unknown.map((n) => `"${n}"`).join(', ')} (registered: ${registry.map((p) => p.name).join(', ')})`);
  const wanted = new Set<string>();
  const add = (name: string) => {
    if (wanted.has(name)) return;
    wanted.add(name);
    for (const need of registry.find((p) => p.name === name)?.needs ?? []) add(need);
  };
  names.forEach(add);
  return registry.filter((p) => wanted.has(p.name));
}
