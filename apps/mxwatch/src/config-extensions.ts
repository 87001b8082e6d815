/**
 * What features know about their settings, handed to loadConfig by the composition root (main.ts
 * and the CLIs), because config/ imports no feature folder. A setting a feature owns outright
 * (its meaning, its default set) is checked here at start-up, with the same exit code 2.
 */
import type { SettingExtension } from './config/load-config.js';
import { resolveZoneConfig } from './probes/dnsbl/dnsbl-zones.js';
import { PROBES, selectProbes } from './probes/registry.js';

const dnsblZones: SettingExtension<'dnsblZones'> = {
  key: 'dnsblZones',
  check(zones) {
    try {
      resolveZoneConfig(zones);
      return null;
    } catch (e) {
      return (e as Error).message;
    }
  },
  // An empty list would mean the same to the probe; naming the zones lets the start-up log say them.
  fallback: () => resolveZoneConfig([]).map((z) => z.zone),
};

const probes: SettingExtension<'probes'> = {
  key: 'probes',
  check(names) {
    try {
      selectProbes(PROBES, names);
      return null;
    } catch (e) {
      return (e as Error).message;
    }
  },
};

export const CONFIG_EXTENSIONS: readonly SettingExtension[] = [dnsblZones as SettingExtension, probes as SettingExtension];
