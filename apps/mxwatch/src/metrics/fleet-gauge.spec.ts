import { describe, expect, it } from 'vitest';
import { FleetGauge } from './fleet-gauge.js';

describe(FleetGauge.name, () => {
  describe('shows', () => {
    const gauge = () => new FleetGauge({ name: 'g', help: 'h', labelNames: ['host', 'ip', 'port'] as const });

    it('should say a series shows the labels that would find it, without building its text', () => {
      const g = gauge();
      const s = g.set({ host: 'mx1.example.test', ip: '192.0.2.1', port: '25' }, 1);
      expect(g.shows(s, { host: 'mx1.example.test', ip: '192.0.2.1', port: '25' })).toBe(true);
      const bare = new FleetGauge({ name: 'b', help: 'h', labelNames: [] });
      expect(bare.shows(bare.set({}, 3), {})).toBe(true);
    });

    it('should say no for any other labels, a prefix of them or more of them', () => {
      const g = gauge();
      const s = g.set({ host: 'mx1.example.test', ip: '192.0.2.1', port: '25' }, 1);
      for (const other of [
        { host: 'mx1.example.test', ip: '192.0.2.1', port: '2' },
        { host: 'mx1.example.test', ip: '192.0.2.1', port: '250' },
        { host: 'mx1.example.test', ip: '192.0.2.10', port: '25' },
        { host: 'mx1.example.test', ip: '192.0.2.1' },
        { host: 'mx1.example.test' },
        {},
        // The same labels in another order write another text.
        { ip: '192.0.2.1', host: 'mx1.example.test', port: '25' },
      ]) {
        expect(g.shows(s, other), JSON.stringify(other)).toBe(false);
      }
    });

    it('should say no for a series removed from the gauge, and yes once it is set again', () => {
      const g = gauge();
      const labels = { host: 'mx1.example.test', ip: '192.0.2.1', port: '25' };
      const s = g.set(labels, 1);
      g.remove(labels);
      expect(g.shows(s, labels)).toBe(false);
      const again = g.set(labels, 1);
      expect(again).toBe(s);
      expect(g.shows(s, labels)).toBe(true);
    });

    it('should leave values that need escaping, and series set in another order, to the ordinary path', () => {
      const g = gauge();
      const quoted = { host: 'mx"1', ip: '192.0.2.1', port: '25' };
      expect(g.shows(g.set(quoted, 1), quoted)).toBe(false);
      const reordered = { port: '25', ip: '192.0.2.9', host: 'mx9' };
      expect(g.shows(g.set(reordered, 1), reordered)).toBe(false);
    });
  });
});
