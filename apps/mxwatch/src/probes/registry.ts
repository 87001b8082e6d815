/**
 * The one list of registered probes, like blackbox_exporter's `Probers` map. Adding a probe is
 * its folder under probes/ plus one import and one line here; nothing else in the runner,
 * findings rules, metrics or config names a probe.
 */
import type { ProbeDefinition } from './probe-definition.js';

export const PROBES: readonly ProbeDefinition[] = [
];
