import { expect } from 'vitest';

/** The parts of `POST /api/v1/domains/{name}/check` the end-to-end suites read. */
export interface CheckFinding {
  code: string;
  severity: string;
  target: string;
  message: string;
  status?: string;
}

export interface CheckResult {
  probe: string;
  target: string;
  status: string;
  reason: string | null;
  durationMs: number;
  details: any;
}

export interface CheckRun {
  status: string;
  results: CheckResult[];
  /** what was probed but kept as one line instead of a result (a port closed and not required) */
  facts: string[];
  findings: { observed: CheckFinding[]; opened: CheckFinding[]; resolved: CheckFinding[]; open: CheckFinding[] };
}

export const findingKeys = (findings: CheckFinding[]) => findings.map((f) => `${f.code} ${f.target}`).sort();

/** The run observed, and has open, exactly these findings (code, target, and severity when given). */
export function expectExactly(run: CheckRun, expected: Array<[code: string, target: string, severity?: string]>): void {
  const want = expected.map(([c, t]) => `${c} ${t}`).sort();
  expect(findingKeys(run.findings.observed)).toEqual(want);
  expect(findingKeys(run.findings.open)).toEqual(want);
  for (const [code, target, severity] of expected) {
    if (severity) expect(run.findings.observed.find((f) => f.code === code && f.target === target)?.severity, `${code} ${target}`).toBe(severity);
  }
}

export const ofProbe = (run: CheckRun, probe: string) => run.results.filter((r) => r.probe === probe);
export const resultOf = (run: CheckRun, probe: string, target: string) => run.results.find((r) => r.probe === probe && r.target === target);
