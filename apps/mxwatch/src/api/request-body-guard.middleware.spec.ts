import { describe, expect, it } from 'vitest';
import { jsonProblem, MAX_JSON_DEPTH, RequestBodyGuardMiddleware } from './request-body-guard.middleware.js';

describe(RequestBodyGuardMiddleware.name, () => {
  const run = (req: Record<string, unknown>) => {
    let passed = false;
    try {
      new RequestBodyGuardMiddleware().use({ method: 'GET', originalUrl: '/api/v1/domains', headers: {}, query: {}, ...req } as never, {} as never, () => (passed = true));
    } catch (e) {
      return { status: (e as { getStatus(): number }).getStatus(), response: (e as { getResponse(): unknown }).getResponse() };
    }
    return passed ? 'next' : 'stalled';
  };

  it('should pass an ordinary JSON request', () => {
    expect(run({ method: 'POST', headers: { 'content-type': 'application/json', 'content-length': '20' }, body: { name: 'a.example', labels: { team: 'mail' } } })).toBe('next');
  });

  it('should refuse a body that is not JSON on an API route only', () => {
    expect(run({ method: 'POST', headers: { 'content-type': 'text/plain', 'content-length': '3' } })).toMatchObject({ status: 415 });
    expect(run({ method: 'POST', originalUrl: '/login', headers: { 'content-type': 'application/x-www-form-urlencoded', 'content-length': '3' } })).toBe('next');
    expect(run({ method: 'POST', headers: {} })).toBe('next');
  });

  it('should name the field that holds a NUL', () => {
    expect(run({ method: 'POST', headers: { 'content-type': 'application/json', 'content-length': '9' }, body: { sendingIps: ['192.0.2.1', '\u0000'] } })).toMatchObject({
      status: 400,
      response: { message: ['sendingIps[1] contains a NUL character (U+0000), which is not allowed'] },
    });
    expect(run({ query: { code: 'X\u0000' } })).toMatchObject({ status: 400, response: { message: ['query.code contains a NUL character (U+0000), which is not allowed'] } });
  });
});

describe(jsonProblem.name, () => {
  it('should find excessive depth without recursing, however deep', () => {
    let deep: unknown = 'leaf';
    for (let i = 0; i < 200_000; i++) deep = [deep];
    expect(jsonProblem(deep, 'body')).toBe(`body is nested deeper than ${MAX_JSON_DEPTH} levels`);
  });

  it('should accept nesting up to the limit', () => {
    let ok: unknown = 'leaf';
    for (let i = 0; i < MAX_JSON_DEPTH; i++) ok = { a: ok };
    expect(jsonProblem(ok, 'body')).toBeNull();
  });
});
