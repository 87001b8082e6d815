import { defineProbe, type SeriesSample } from '../probe-definition.js';
import { smtpEndpoints, type Endpoint } from '../smtp/endpoints.js';
import { smtpSession } from '../smtp/smtp-session.js';
import type { StarttlsDetails } from '../smtp/smtp.probe.js';
import { STARTTLS_FINDINGS } from './starttls.findings.js';

/**
 * STARTTLS / implicit TLS and the certificate of every endpoint. It shares the `smtp` probe's one
 * session per endpoint: a port that never reached TLS (closed, tarpit) has no starttls result.
 */
export const starttlsProbe = defineProbe<StarttlsDetails, Endpoint>({
  name: 'starttls',
  scope: 'endpoint',
  title: 'STARTTLS and TLS: offered, handshake, version, certificate expiry, trust and name',
  needs: ['mx'],
  subjects: (plan, ctx) => smtpEndpoints(plan, ctx),
  run: async (ctx, ep, env) => (await smtpSession(ctx, ep, env)).starttls,
  findings: STARTTLS_FINDINGS,
  metrics: {
    specs: [
      { name: 'mxwatch_starttls_supported', help: 'Whether TLS works on the port (STARTTLS offered and handshake completed, or implicit TLS on 465)', type: 'gauge', labelNames: ['host', 'ip', 'port'] },
      { name: 'mxwatch_tls_cert_not_after_timestamp_seconds', help: 'Expiry of the certificate served on the port (unix time), kept even when the certificate is invalid', type: 'gauge', labelNames: ['host', 'ip', 'port'] },
      { name: 'mxwatch_tls_version_info', help: 'TLS version negotiated on the port (value 1)', type: 'gauge', labelNames: ['host', 'ip', 'port', 'version'] },
    ],
    series(r) {
      const d = r.details;
      const labels = { host: d.host, ip: d.ip, port: String(d.port) };
      const out: SeriesSample[] = [];
      if (r.status !== 'untestable') out.push({ metric: 'mxwatch_starttls_supported', labels, value: d.offered && d.handshakeOk ? 1 : 0, owner: 'host' });
      if (d.cert?.notAfter) out.push({ metric: 'mxwatch_tls_cert_not_after_timestamp_seconds', labels, value: Date.parse(d.cert.notAfter) / 1000, owner: 'host' });
      if (d.tlsVersion) out.push({ metric: 'mxwatch_tls_version_info', labels: { ...labels, version: d.tlsVersion }, value: 1, owner: 'host' });
      return out;
    },
  },
});
