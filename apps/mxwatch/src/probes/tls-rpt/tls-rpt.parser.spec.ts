import { describe, expect, it } from 'vitest';
import { parseTlsRptTxt } from './tls-rpt.parser.js';

describe(parseTlsRptTxt.name, () => {
  it.each([
    [['v=TLSRPTv1; rua=mailto:tls@example.com'], ['mailto:tls@example.com']],
    [['v=TLSRPTv1;rua=https://reports.example.com/tlsrpt'], ['https://reports.example.com/tlsrpt']],
    [['v=TLSRPTv1; rua=mailto:a@example.com, https://r.example.net/x;'], ['mailto:a@example.com', 'https://r.example.net/x']],
    [['v=spf1 -all', 'v=TLSRPTv1; rua=mailto:a@example.com; ext=1'], ['mailto:a@example.com']],
  ])('should accept %j', (records, rua) => {
    expect(parseTlsRptTxt(records)).toMatchObject({ kind: 'valid', rua });
  });

  it('should call a domain without a TLS-RPT-like record unconfigured', () => {
    expect(parseTlsRptTxt([])).toEqual({ kind: 'missing' });
    expect(parseTlsRptTxt(['v=DMARC1; p=none'])).toEqual({ kind: 'missing' });
  });

  it.each([
    [['v=TLSRPTv1; rua=mailto:a@example.com', 'v=TLSRPTv1; rua=mailto:b@example.com'], /2 records/],
    [['v=TLSRPTv1;'], /no rua/],
    [['v=TLSRPTv1; ruf=mailto:a@example.com'], /no rua/],
    [['v=TLSRPTv1; rua=http://r.example.com/'], /neither mailto: nor https:/],
    [['v=TLSRPTv1; rua=tls@example.com'], /neither mailto: nor https:/],
    [['v=TLSRPTv1; rua=mailto:nobody'], /names no mail address/],
    [['v=TLSRPTv1; rua=mailto:a@example.com,'], /empty URI/],
    [['v=TLSRPTv1 ; rua=mailto:a@example.com'], /does not begin with "v=TLSRPTv1;"/],
    [['v=TLSRPTv1; rua=mailto:a@example.com; junk'], /not a name=value field/],
  ])('should reject %j', (records, problem) => {
    const v = parseTlsRptTxt(records);
    expect(v.kind).toBe('invalid');
    expect(v.kind === 'invalid' && v.problems.join('; ')).toMatch(problem);
  });
});
