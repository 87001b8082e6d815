import { describe, expect, it } from 'vitest';
import { PageAccess, readCookie, safeNext, SESSION_COOKIE } from './page-auth.js';

const READ = 'read-token-0123456789';
const API = 'api-token-0123456789';

describe(PageAccess.name, () => {
  it('should let everyone in when the pages are open', () => {
    const a = new PageAccess({ uiAuth: 'open', readToken: READ, apiToken: API });
    expect(a.required).toBe(false);
    expect(a.allows({})).toBe(true);
  });

  it('should accept the read token and the API token as Bearer, and nothing else', () => {
    const a = new PageAccess({ uiAuth: 'token', readToken: READ, apiToken: API });
    expect(a.allows({ authorization: `Bearer ${READ}` })).toBe(true);
    expect(a.allows({ authorization: `bearer ${API}` })).toBe(true);
    expect(a.allows({ authorization: `Bearer ${READ}x` })).toBe(false);
    expect(a.allows({ authorization: READ })).toBe(false);
    expect(a.allows({})).toBe(false);
  });

  it('should accept the cookie set for a good token, which does not contain the token', () => {
    const a = new PageAccess({ uiAuth: 'token', readToken: READ, apiToken: undefined });
    expect(a.acceptsToken(` ${READ} `)).toBe(true);
    expect(a.acceptsToken('guess')).toBe(false);
    const cookie = a.cookieFor(READ);
    expect(cookie).not.toContain(READ);
    expect(a.allows({ cookie: `other=1; ${SESSION_COOKIE}=${cookie}` })).toBe(true);
    expect(a.allows({ cookie: `${SESSION_COOKIE}=${a.cookieFor('guess')}` })).toBe(false);
    expect(a.allows({ cookie: `${SESSION_COOKIE}=${READ}` })).toBe(false);
  });

  it('should refuse everyone when token auth is on but no token is configured', () => {
    const a = new PageAccess({ uiAuth: 'token', readToken: undefined, apiToken: undefined });
    expect(a.acceptsToken('')).toBe(false);
    expect(a.allows({ authorization: 'Bearer ' })).toBe(false);
    expect(a.allows({ cookie: `${SESSION_COOKIE}=` })).toBe(false);
  });
});

describe(readCookie.name, () => {
  it('should find a cookie among others and decode it', () => {
    expect(readCookie('a=1; mxwatch_ui=x%2By; b=2', 'mxwatch_ui')).toBe('x+y');
    expect(readCookie('a=1', 'mxwatch_ui')).toBeNull();
    expect(readCookie(undefined, 'mxwatch_ui')).toBeNull();
    expect(readCookie('mxwatch_ui=%E0%A4%A', 'mxwatch_ui')).toBeNull();
  });
});

describe(safeNext.name, () => {
  it('should keep same-site paths and send anything else to the fleet', () => {
    expect(safeNext('/domains/a.test?x=1')).toBe('/domains/a.test?x=1');
    for (const bad of ['//evil.test/', 'https://evil.test/', '/\\evil.test', 'javascript:x', '/a\r\nSet-Cookie: x=1', undefined, 3]) expect(safeNext(bad), String(bad)).toBe('/');
  });
});
