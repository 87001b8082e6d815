import { describe, expect, it } from 'vitest';
import { defineProbe } from '../probes/probe-definition.js';
import type { ProbeResult, ProbeStatus } from '../probes/probe.types.js';
import { FindingRules } from './findings.rules.js';

const def = (name: string, needs: string[], extra: Partial<Parameters<typeof defineProbe>[0]> = {}) =>
  defineProbe({
    name,
    scope: 'domain',
    title: name,
    needs,
    subjects: () => [],
    run: async () => null,
    findings: {
      [`${name.toUpperCase()}_BAD`]: { severity: 'critical', message: '{thing} is bad', remediation: 'fix {thing}' },
      [`${name.toUpperCase()}_PATH`]: { severity: 'warning', message: 'path', remediation: 'r', reportWhenUntestable: true },
    },
    ...extra,
  });

const result = (probe: string, target: string, status: ProbeStatus, codes: string[] = [], severity?: 'info'): ProbeResult => ({
  probe, target, status, startedAt: new Date(), durationMs: 1, details: {},
  observations: codes.map((code) => ({ code, target, params: { thing: target }, ...(severity ? { severity } : {}) })),
});

const rules = new FindingRules([def('root', []), def('leaf', ['root'])]);
const finding = (probe: string, code: string, target: string) => ({ probe, code, target, evidence: { resultTarget: target } });

describe(FindingRules.name, () => {
  it('should render drafts from the owning probe\'s catalog entry, with the observation\'s own severity when it has one', () => {
    const drafts = rules.derive([result('leaf', 'a', 'fail', ['LEAF_BAD']), result('leaf', 'b', 'warn', ['LEAF_BAD'], 'info')]);
    expect(drafts.map((d) => [d.code, d.probe, d.target, d.severity, d.message, d.remediation])).toEqual([
      ['LEAF_BAD', 'leaf', 'a', 'critical', 'a is bad', 'fix a'],
      ['LEAF_BAD', 'leaf', 'b', 'info', 'b is bad', 'fix b'],
    ]);
  });

  it('should drop observations of untestable results except facts about our own path', () => {
    const drafts = rules.derive([result('leaf', 'a', 'untestable', ['LEAF_BAD', 'LEAF_PATH'])]);
    expect(drafts.map((d) => d.code)).toEqual(['LEAF_PATH']);
  });

  it('should throw on a code no registered probe declares (a bug, not a finding)', () => {
    expect(() => rules.derive([result('leaf', 'a', 'fail', ['NOBODY_DECLARES_THIS'])])).toThrow(/unknown finding code/);
  });

  it('should count a run as covering a finding only when a result about its target was testable', () => {
    const f = finding('leaf', 'LEAF_BAD', 'a');
    expect(rules.isCovered(f, [result('root', 'd', 'pass'), result('leaf', 'a', 'pass')])).toBe(true);
    expect(rules.isCovered(f, [result('root', 'd', 'pass'), result('leaf', 'a', 'untestable')])).toBe(false);
  });

  it('should treat a target that left the domain as covered only when every probe it derives from could test', () => {
    const f = finding('leaf', 'LEAF_BAD', 'gone');
    expect(rules.isCovered(f, [result('root', 'd', 'pass'), result('leaf', 'other', 'pass')])).toBe(true);
    expect(rules.isCovered(f, [result('root', 'd', 'untestable')])).toBe(false);
    // Another probe still reports on that target: not gone.
    expect(rules.isCovered(f, [result('root', 'gone', 'pass')])).toBe(false);
  });

  it('should let a probe decide coverage for its own codes, and resolve findings of a probe no longer registered', () => {
    const custom = new FindingRules([def('root', [], { covers: (fnd) => (fnd.code === 'ROOT_PATH' ? false : undefined) })]);
    expect(custom.isCovered(finding('root', 'ROOT_PATH', 'x'), [result('root', 'x', 'pass')])).toBe(false);
    expect(custom.isCovered(finding('root', 'ROOT_BAD', 'x'), [result('root', 'x', 'pass')])).toBe(true);
    expect(custom.isCovered(finding('retired', 'RETIRED_X', 'x'), [])).toBe(true);
  });

  it('should mark MONITOR_ codes as about the monitor: kept even when untestable, with evidence that names no domain', () => {
    const withMonitor = new FindingRules([
      def('root', [], { findings: { ROOT_BAD: { severity: 'critical', message: 'bad', remediation: 'r' }, MONITOR_ROOT_PATH: { severity: 'warning', message: 'our path: {why}', remediation: 'r', reportWhenUntestable: true } } }),
    ]);
    const r = result('root', 'example.com', 'untestable', ['MONITOR_ROOT_PATH']);
    r.observations[0]!.target = 'resolver';
    r.observations[0]!.params = { why: 'no AD bit' };
    expect(withMonitor.derive([r])).toEqual([
      { code: 'MONITOR_ROOT_PATH', severity: 'warning', probe: 'root', target: 'resolver', message: 'our path: no AD bit', remediation: 'r', evidence: { why: 'no AD bit' }, scope: 'monitor' },
    ]);
    expect(withMonitor.derive([result('root', 'example.com', 'fail', ['ROOT_BAD'])])[0]).toMatchObject({ scope: 'domain', evidence: { resultTarget: 'example.com' } });
    // Without a probe rule: seen by any run in which its probe could test, whatever its target.
    const f = finding('root', 'MONITOR_ROOT_PATH', 'resolver');
    expect(withMonitor.isCovered(f, [result('root', 'other.example', 'pass')])).toBe(true);
    expect(withMonitor.isCovered(f, [result('root', 'other.example', 'untestable')])).toBe(false);
    expect(withMonitor.isCovered(f, [result('leaf', 'other.example', 'pass')])).toBe(false);
  });

  it('should refuse a monitor code that would be dropped when the result is untestable', () => {
    expect(() => new FindingRules([def('root', [], { findings: { MONITOR_ROOT_X: { severity: 'warning', message: 'm', remediation: 'r' } } })])).toThrow(/must be reportWhenUntestable/);
  });

  it('should refuse two probes declaring the same code', () => {
    expect(() => new FindingRules([def('root', []), defineProbe({ ...def('copy', []), findings: { ROOT_BAD: { severity: 'info', message: 'm', remediation: 'r' } } })])).toThrow(/declared by both/);
  });
});
