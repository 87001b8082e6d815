import { describe, expect, it } from 'vitest';
import { renderDomain, type DomainView } from './domain.view.js';
import { renderFleet } from './fleet.view.js';
import { buildHostMatrix, daysLeft, parseEndpointTarget } from './host-matrix.js';
import { cellState, timelineStrip } from './timeline.view.js';

const NOW = new Date('2026-06-30T12:00:00Z');
const HOSTILE = `<script>alert(1)</script>"'\`<img src=x onerror=alert(2)>`;

function view(over: Partial<DomainView> = {}): DomainView {
  return {
    now: NOW,
    signedIn: false,
    tokenRequired: true,
    domain: { name: 'a.test', labels: { note: HOSTILE }, enabled: true, intervalSeconds: 300, lastCheckAt: NOW },
    lastRun: { status: 'warn', trigger: 'manual', startedAt: NOW, durationMs: 12 },
    results: [
      { probe: 'mx', target: 'a.test', status: 'pass', reason: null, details: { hosts: [{ host: 'mx.a.test', preference: 10, addresses: ['192.0.2.1'], cname: null, resolveError: null }] } },
      { probe: 'smtp', target: 'mx.a.test[192.0.2.1]:25', status: 'pass', reason: null, details: { role: 'mx', open: true, banner: `220 ${HOSTILE}`, error: null, connectMs: 3 } },
      {
        probe: 'starttls',
        target: 'mx.a.test[192.0.2.1]:25',
        status: 'warn',
        reason: null,
        details: { offered: true, tlsVersion: 'TLSv1.3', cipher: 'X', trusted: false, nameMatch: true, authorizationError: HOSTILE, cert: { subject: `CN=${HOSTILE}`, sans: [HOSTILE], issuer: 'CN=ca', notAfter: '2026-07-10T12:00:00Z' } },
      },
      { probe: 'dnsbl', target: '192.0.2.1@zen.example', status: 'fail', reason: 'listed', details: { subject: '192.0.2.1', zone: 'zen.example', state: 'listed', codes: ['127.0.0.2'], txt: HOSTILE } },
      { probe: 'dnsbl', target: 'a.test@dbl.example', status: 'pass', reason: null, details: { subject: 'a.test', zone: 'dbl.example', state: 'clean', codes: [] } },
      { probe: 'spf', target: 'a.test', status: 'warn', reason: null, details: { record: HOSTILE, nested: { x: `</pre>${HOSTILE}` }, observations: [{ code: 'HIDDEN_OBS' }] } },
    ],
    findings: [{ code: 'TLS_CERT_UNTRUSTED', severity: 'warning', probe: 'starttls', target: 'mx.a.test[192.0.2.1]:25', message: HOSTILE, remediation: HOSTILE, openedAt: NOW }],
    probes: [
      { name: 'mx', title: 'MX', scope: 'domain' },
      { name: 'spf', title: 'SPF <policy>', scope: 'domain' },
    ],
    timeline: { since: new Date('2026-06-01T00:00:00Z'), bucketMs: 86_400_000, buckets: 30, cells: [{ probe: 'mx', bucket: 29, pass: 3, warn: 0, fail: 1, untestable: 0 }] },
    changes: [{ at: NOW, probe: 'spf', kind: 'spf.all_loosened', weakening: true, text: HOSTILE }],
    ...over,
  };
}

describe(renderDomain.name, () => {
  it('should escape every value that came from the internet or an operator', () => {
    const out = renderDomain(view()).value;
    expect(out).not.toContain('<script>alert');
    expect(out).not.toContain('<img');
    expect(out).not.toContain('</pre><script');
    expect(out).toContain('&lt;/pre&gt;');
    expect(out).toContain('&lt;script&gt;alert(1)&lt;/script&gt;');
    // The only script element is the page's own, from /assets.
    expect(out.match(/<script/g)).toHaveLength(1);
  });

  it('should place ports, TLS, certificate and listings under their host and address', () => {
    const out = renderDomain(view()).value;
    expect(out).toMatch(/data-host="mx.a.test"[\s\S]*data-address="192.0.2.1"[\s\S]*data-port="25"[\s\S]*TLSv1.3[\s\S]*data-days-left="10"[\s\S]*data-zone="zen.example"/);
    expect(out).toContain('data-state="listed"');
    expect(out).toContain('data-zone="dbl.example"');
  });

  it('should render a registered probe without a matrix generically, and hide its observations', () => {
    const out = renderDomain(view()).value;
    expect(out).toContain('data-probe="spf"');
    expect(out).toContain('<dt>record</dt>');
    expect(out).not.toContain('HIDDEN_OBS');
  });

  it('should ask for the API token only when one is configured', () => {
    expect(renderDomain(view()).value).toContain('name="token"');
    expect(renderDomain(view({ tokenRequired: false })).value).not.toContain('name="token"');
  });

  it('should list policy changes newest first, marking the ones that weaken protection', () => {
    const out = renderDomain(view({ changes: [{ at: NOW, probe: 'dmarc', kind: 'dmarc.policy_lowered', weakening: true, text: 'p reject -> none' }, { at: NOW, probe: 'mx', kind: 'mx.host_added', weakening: false, text: 'MX mx2 added' }] })).value;
    expect(out).toMatch(/data-kind="dmarc.policy_lowered"><span class="badge warning">warning<\/span> <strong>dmarc<\/strong> p reject -&gt; none/);
    expect(out).toMatch(/data-kind="mx.host_added"><strong>mx<\/strong> MX mx2 added/);
  });

  it('should say when there is no check yet, and leave out the change history when there is none', () => {
    const out = renderDomain(view({ results: [], lastRun: null, findings: [], changes: null })).value;
    expect(out).toContain('not checked yet');
    expect(out).toContain('No open findings.');
    expect(out).not.toContain('id="changes-h"');
  });
});

describe(renderFleet.name, () => {
  it('should escape filters and labels and keep them in the pager links', () => {
    const out = renderFleet({
      now: NOW,
      filters: { text: HOSTILE, label: 'env=prod', severity: 'warning' },
      page: 2,
      pageSize: 1,
      result: { rows: [{ name: 'a.test', labels: { note: HOSTILE }, enabled: true, worst: 'warning', critical: 0, warning: 1, info: 0, lastCheckAt: NOW, lastStatus: 'warn' }], bySeverity: { critical: 0, warning: 3, info: 0, ok: 0 }, total: 3 },
      recent: [{ event: 'opened', at: NOW, domain: 'a.test', code: 'X', severity: 'warning', target: HOSTILE, message: 'm' }],
      monitor: [],
      recentHours: 24,
      signedIn: false,
      problems: [HOSTILE],
    }).value;
    expect(out).not.toContain('<script>alert');
    expect(out).not.toContain('<img');
    expect(out).toContain('rel="prev"');
    expect(out).toContain('rel="next"');
    expect(out).toContain('Page 2 of 3');
    expect(out).toMatch(/href="\/\?q&#61;%3Cscript%3E[^"]*label&#61;env%3Dprod&amp;severity&#61;warning&amp;page&#61;3"/);
  });
});

describe('findings about mxwatch itself', () => {
  const monitor = [{ code: 'MONITOR_RESOLVER_NOT_VALIDATING', severity: 'warning', message: `resolver ${HOSTILE} does not validate`, remediation: 'point MXWATCH_DNS_SERVERS at a validating resolver', openedAt: NOW }];
  const fleet = (over: Partial<Parameters<typeof renderFleet>[0]>) =>
    renderFleet({
      now: NOW,
      filters: { text: '', label: '', severity: '' },
      page: 1,
      pageSize: 50,
      result: { rows: [], bySeverity: { critical: 0, warning: 0, info: 0, ok: 0 }, total: 0 },
      recent: [],
      monitor: [],
      recentHours: 24,
      signedIn: false,
      problems: [],
      ...over,
    }).value;

  it('should head the overview with a banner, not list them under a domain, and link their events to it', () => {
    const out = fleet({ monitor, recent: [{ event: 'opened', at: NOW, domain: null, code: 'MONITOR_RESOLVER_NOT_VALIDATING', severity: 'warning', target: 'resolver', message: 'm' }] });
    expect(out).toContain('mxwatch itself needs attention (1)');
    expect(out).toMatch(/<li class="warning" data-code="MONITOR_RESOLVER_NOT_VALIDATING" data-severity="warning" data-scope="monitor">/);
    expect(out).toContain('point MXWATCH_DNS_SERVERS at a validating resolver');
    expect(out).not.toContain('<script>alert');
    expect(out.indexOf('id="monitor-h"')).toBeLessThan(out.indexOf('id="domains-h"'));
    expect(out).toMatch(/data-scope="monitor" data-code="MONITOR_RESOLVER_NOT_VALIDATING"><strong>Opened<\/strong>[^]*on <a href="#monitor-h">mxwatch itself<\/a>/);
    expect(fleet({})).not.toContain('monitor-h');
  });

  it('should point a domain page at the overview in one line', () => {
    const out = renderDomain(view({ monitor })).value;
    expect(out).toContain('data-monitor-findings="1"');
    expect(out).toContain('MONITOR_RESOLVER_NOT_VALIDATING');
    expect(out).toContain('href="/#monitor-h"');
    expect(out).not.toContain('id="monitor-h"');
    expect(renderDomain(view({})).value).not.toContain('data-monitor-findings');
  });
});

describe(buildHostMatrix.name, () => {
  it('should put a host no MX names under submission hosts', () => {
    const m = buildHostMatrix([{ probe: 'smtp', target: 'submit.a.test[192.0.2.9]:587', status: 'pass', reason: null, details: { role: 'submission', open: true } }]);
    expect(m.mxHosts).toEqual([]);
    expect(m.submissionHosts.map((h) => [h.host, h.addresses[0]!.ip, h.addresses[0]!.ports[0]!.port])).toEqual([['submit.a.test', '192.0.2.9', 587]]);
  });

  it('should read an IPv6 endpoint target', () => {
    expect(parseEndpointTarget('mx.a.test[2001:db8::1]:25')).toEqual({ host: 'mx.a.test', ip: '2001:db8::1', port: 25 });
    expect(parseEndpointTarget('a.test')).toBeNull();
  });

  it('should count whole days left, negative once expired', () => {
    expect(daysLeft(new Date('2026-07-05T11:00:00Z'), NOW)).toBe(4);
    expect(daysLeft(new Date('2026-06-29T12:00:00Z'), NOW)).toBe(-1);
  });
});

describe(timelineStrip.name, () => {
  it('should draw one cell per bucket with the worst state, and say the totals in its label', () => {
    const svg = timelineStrip({ probe: 'mx', cells: [{ probe: 'mx', bucket: 0, pass: 5, warn: 0, fail: 0, untestable: 1 }, { probe: 'mx', bucket: 2, pass: 1, warn: 1, fail: 0, untestable: 0 }], since: new Date('2026-06-01T00:00:00Z'), bucketMs: 86_400_000, buckets: 3 }).value;
    expect([...svg.matchAll(/data-state="(\w+)"/g)].map((m) => m[1])).toEqual(['untestable', 'none', 'warn']);
    expect(svg).toContain('aria-label="mx, last 3 days: 1 warn, 1 untestable, 1 no data"');
    expect(svg).toContain('<title>2026-06-03: 1 pass, 1 warn, 0 fail, 0 untestable</title>');
  });

  it('should rank fail over warn over untestable over pass', () => {
    expect(cellState({ pass: 9, warn: 1, fail: 1, untestable: 1 })).toBe('fail');
    expect(cellState({ pass: 9, warn: 1, fail: 0, untestable: 1 })).toBe('warn');
    expect(cellState({ pass: 9, warn: 0, fail: 0, untestable: 1 })).toBe('untestable');
    expect(cellState({ pass: 1, warn: 0, fail: 0, untestable: 0 })).toBe('pass');
    expect(cellState(undefined)).toBe('none');
  });
});
