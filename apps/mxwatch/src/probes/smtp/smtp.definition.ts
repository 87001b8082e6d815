import { defineProbe } from '../probe-definition.js';
import { smtpEndpoints, type Endpoint } from './endpoints.js';
import { OutboundMonitor } from './outbound-monitor.js';
import { SMTP_FINDINGS } from './smtp.findings.js';
import type { SmtpDetails } from './smtp.probe.js';
import { smtpSession } from './smtp-session.js';

/** 587/465 of a host probed only as an MX: closed is normal. */
const NOT_REQUIRED = 'port_closed_not_required';

/** Our own outbound port 25, as seen over the recent port-25 attempts of every domain. */
export const outboundMonitor = new OutboundMonitor();

export const smtpProbe = defineProbe<SmtpDetails, Endpoint>({
  name: 'smtp',
  scope: 'endpoint',
  title: 'SMTP on every MX address and submission host: reachability, banner, EHLO',
  needs: ['mx'],
  subjects: (plan, ctx) => smtpEndpoints(plan, ctx),
  run: async (ctx, ep, env) => (await smtpSession(ctx, ep, env)).smtp,
  findings: SMTP_FINDINGS,
  fact: (r) => (r.reason === NOT_REQUIRED && r.observations.length === 0 ? `${r.target} ${NOT_REQUIRED}` : null),
  reviewRun(results) {
    outboundMonitor.observe(results);
    return outboundMonitor.reclassify(results) as typeof results;
  },
  metrics: {
    specs: [
      { name: 'mxwatch_smtp_port_open', help: 'Whether the SMTP port accepted a TCP connection', type: 'gauge', labelNames: ['host', 'ip', 'port'] },
      { name: 'mxwatch_smtp_outbound_blocked', help: '1 when every recent port-25 probe failed the same way: our own outbound port 25 is likely blocked', type: 'gauge', labelNames: [] },
    ],
    series(r) {
      const d = r.details;
      if (r.status === 'untestable' && !d.open) return [];
      // Closed and not required (587/465 of an MX): not stored either (`fact`), so a replica
      // that reads the stored runs shows the same series as the process that ran the check.
      if (r.reason === NOT_REQUIRED) return [];
      return [{ metric: 'mxwatch_smtp_port_open', labels: { host: d.host, ip: d.ip, port: String(d.port) }, value: d.open ? 1 : 0, owner: 'host' }];
    },
    global: () => [{ metric: 'mxwatch_smtp_outbound_blocked', labels: {}, value: outboundMonitor.blocked ? 1 : 0 }],
  },
});
