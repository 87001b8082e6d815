import { describe, expect, it } from 'vitest';
import { mediaType, mxCovered, mxPatternMatches, parseStsPolicy, parseStsTxt } from './mta-sts.parser.js';

describe(parseStsTxt.name, () => {
  it.each([
    [['v=STSv1; id=20240101T000000'], '20240101T000000'],
    [['v=STSv1;id=abc123'], 'abc123'],
    [['v=STSv1; id=abc123;'], 'abc123'],
    [['v=STSv1; id=abc; future_ext=some.value'], 'abc'],
    [['v=spf1 -all', 'v=STSv1; id=x1'], 'x1'],
    [['v=STSv1;  id=a  ;  ext=1 '], 'a'],
  ])('should accept %j with id %s', (records, id) => {
    expect(parseStsTxt(records)).toMatchObject({ kind: 'valid', id });
  });

  it('should call the domain unconfigured when no record looks like MTA-STS', () => {
    expect(parseStsTxt([])).toEqual({ kind: 'missing' });
    expect(parseStsTxt(['google-site-verification=abc'])).toEqual({ kind: 'missing' });
  });

  it.each([
    [['v=STSv1; id=a', 'v=STSv1; id=b'], /2 records/],
    [['v=STSv1; id=20240101T00:00'], /1 to 32 letters or digits/],
    [['v=STSv1; id='], /1 to 32 letters or digits/],
    [[`v=STSv1; id=${'a'.repeat(33)}`], /1 to 32/],
    [['v=STSv1; ext=1'], /no id field/],
    [['v=STSv1;'], /no fields/],
    [['v=STSv1 ; id=a'], /does not begin with "v=STSv1;"/],
    [['v=stsv1; id=a'], /does not begin/],
    [['v=STSv1; id=a; junk'], /not a name=value field/],
    [['v=STSv1; ID=a'], /no id field/],
  ])('should reject %j', (records, problem) => {
    const v = parseStsTxt(records);
    expect(v.kind).toBe('invalid');
    expect(v.kind === 'invalid' && v.problems.join('; ')).toMatch(problem);
  });
});

describe(parseStsPolicy.name, () => {
  const good = 'version: STSv1\nmode: enforce\nmx: mx1.example.net\nmx: *.example.org\nmax_age: 604800\n';

  it('should read the fields with LF or CRLF lines', () => {
    const expected = { ok: true, policy: { mode: 'enforce', maxAge: 604800, mx: ['mx1.example.net', '*.example.org'] } };
    expect(parseStsPolicy(good)).toEqual(expected);
    expect(parseStsPolicy(good.replace(/\n/g, '\r\n'))).toEqual(expected);
    expect(parseStsPolicy(good.trimEnd())).toEqual(expected);
  });

  it('should ignore unknown keys and let the first of a repeated key win (mx accumulates)', () => {
    const v = parseStsPolicy('version: STSv1\nmode: testing\nmode: enforce\nfoo: bar\nmx: a.example\nmx: b.example\nmax_age: 100\nmax_age: 9\n');
    expect(v).toEqual({ ok: true, policy: { mode: 'testing', maxAge: 100, mx: ['a.example', 'b.example'] } });
  });

  it('should accept mode none without mx lines', () => {
    expect(parseStsPolicy('version: STSv1\nmode: none\nmax_age: 86400\n')).toEqual({ ok: true, policy: { mode: 'none', maxAge: 86400, mx: [] } });
  });

  it.each([
    ['mode: enforce\nmx: a.example\nmax_age: 1\n', /no "version" line/],
    ['version: STSv2\nmode: enforce\nmx: a.example\nmax_age: 1\n', /version "STSv2"/],
    ['version: STSv1\nmode: Enforce\nmx: a.example\nmax_age: 1\n', /mode "Enforce"/],
    ['version: STSv1\nmx: a.example\nmax_age: 1\n', /no "mode" line/],
    ['version: STSv1\nmode: enforce\nmx: a.example\n', /no "max_age"/],
    ['version: STSv1\nmode: enforce\nmx: a.example\nmax_age: 31557601\n', /exceeds 31557600/],
    ['version: STSv1\nmode: enforce\nmx: a.example\nmax_age: -1\n', /not a number/],
    ['version: STSv1\nmode: enforce\nmx: a.example\nmax_age: 12345678901\n', /not a number/],
    ['version: STSv1\nmode: enforce\nmax_age: 86400\n', /needs at least one "mx"/],
    ['version: STSv1\nmode: testing\nmx: a.*.example\nmax_age: 86400\n', /mx "a\.\*\.example"/],
    ['<html><body>Not found</body></html>\n', /is not "key: value"/],
  ])('should reject %j', (body, problem) => {
    const v = parseStsPolicy(body);
    expect(v.ok).toBe(false);
    expect(!v.ok && v.problems.join('; ')).toMatch(problem);
  });

  it('should accept the largest max_age the RFC allows', () => {
    expect(parseStsPolicy('version: STSv1\nmode: enforce\nmx: a.example\nmax_age: 31557600\n')).toMatchObject({ ok: true, policy: { maxAge: 31557600 } });
  });
});

describe(mxPatternMatches.name, () => {
  it.each([
    ['mx1.example.net', 'mx1.example.net', true],
    ['mx1.example.net', 'MX1.Example.Net.', true],
    ['mx1.example.net', 'mx2.example.net', false],
    ['*.example.net', 'mx1.example.net', true],
    ['*.example.net', 'MX1.EXAMPLE.NET.', true],
  ])('should match %s against %s: %s', (pattern, host, expected) => {
    expect(mxPatternMatches(pattern, host)).toBe(expected);
  });

  // RFC 8461 section 4.1 wins over two popular checkers, which match any suffix.
  it('should let "*." cover exactly one leftmost label, not deeper names nor the bare domain (two popular checkers match any suffix; the RFC wins)', () => {
    expect(mxPatternMatches('*.example.net', 'a.b.example.net')).toBe(false);
    expect(mxPatternMatches('*.example.net', 'example.net')).toBe(false);
    expect(mxPatternMatches('*.example.net', 'mx.badexample.net')).toBe(false);
    expect(mxCovered(['*.example.net', 'a.b.example.net'], 'a.b.example.net')).toBe(true);
  });
});

describe(mediaType.name, () => {
  it('should compare the media type without parameters or case', () => {
    expect(mediaType('Text/Plain; charset=utf-8')).toBe('text/plain');
    expect(mediaType(undefined)).toBeNull();
  });
});
