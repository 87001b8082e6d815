import { describe, expect, it } from 'vitest';
import { flagProblem, parseCliArgs, UsageError } from './cli-args.js';

describe(parseCliArgs.name, () => {
  it('should read a check with its defaults', () => {
    expect(parseCliArgs(['check', 'example.com'])).toEqual({
      command: 'check', domain: 'example.com', json: false, failOn: 'warning', color: 'auto', verbose: false, env: {}, submissionHosts: [], sendingIps: [], dkimSelectors: [],
    });
  });

  it('should turn setting flags into the service variables and collect repeated flags', () => {
    const cmd = parseCliArgs(['check', 'example.com', '--json', '--fail-on', 'critical', '--dns', '9.9.9.9:53', '--dns-protocol=udp', '--dnsbl-zones', 'zen.spamhaus.org', '--ports', '25', '--timeout', '20', '--sending-ip', '192.0.2.1', '--sending-ip', '192.0.2.2', '--no-color', '--probes', 'mx, starttls']);
    expect(cmd).toMatchObject({
      json: true,
      failOn: 'critical',
      color: 'never',
      env: { MXWATCH_DNS_SERVERS: '9.9.9.9:53', MXWATCH_DNS_PROTOCOL: 'udp', MXWATCH_DNSBL_ZONES: 'zen.spamhaus.org', MXWATCH_SMTP_PORTS: '25', MXWATCH_CHECK_TIMEOUT: '20', MXWATCH_PROBES: 'mx, starttls' },
      sendingIps: ['192.0.2.1', '192.0.2.2'],
    });
  });

  it('should answer help, version and schema', () => {
    expect(parseCliArgs(['--help'])).toEqual({ command: 'help' });
    expect(parseCliArgs(['check', '-h'])).toEqual({ command: 'help' });
    expect(parseCliArgs(['--version'])).toEqual({ command: 'version' });
    expect(parseCliArgs(['schema'])).toEqual({ command: 'schema' });
  });

  it.each([
    [[], 'no command given'],
    [['status', 'a.test'], 'unknown command "status"'],
    [['check'], 'check needs a domain'],
    [['check', 'a.test', 'b.test'], 'check takes one domain, got 2'],
    [['check', 'a.test', '--fail-on', 'high'], '--fail-on must be one of critical, warning, info, got "high"'],
    [['check', 'a.test', '--bogus'], "Unknown option '--bogus'"],
    [['check', 'a.test', '--dns'], "argument missing"],
    [['check', 'a.test', '--color', '--no-color'], 'contradict'],
  ])('should refuse %j as a usage error', (argv, message) => {
    expect(() => parseCliArgs(argv)).toThrow(UsageError);
    expect(() => parseCliArgs(argv)).toThrow(message);
  });
});

describe(flagProblem.name, () => {
  it('should name the flag when the variable came from one, and leave other problems alone', () => {
    expect(flagProblem('MXWATCH_SMTP_PORTS: must be a port', { MXWATCH_SMTP_PORTS: '0' })).toBe('--ports: must be a port');
    expect(flagProblem('MXWATCH_SMTP_PORTS: must be a port', {})).toBe('MXWATCH_SMTP_PORTS: must be a port');
  });
});
