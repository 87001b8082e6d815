/**
 * The status pages in a real browser: Debian's Chromium driven by playwright-core, against the
 * built service on the fake internet. Screenshots land in test-artifacts/pages/ (gitignored).
 */
import { mkdirSync } from 'node:fs';
import path from 'node:path';
import { chromium, type Browser, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ROOT, startApp, type RunningApp } from '../support/app-process.js';
import { createFakeInternet, type FakeInternet } from '../support/fake-internet.js';
import { createTestDatabase } from '../support/postgres.js';

// Callbacks given to page.evaluate run in the browser; the project compiles without the DOM library.
declare const document: any;
declare const getComputedStyle: (element: any) => { color: string; backgroundColor: string };
declare const NodeFilter: { SHOW_TEXT: number };
type Element = any;
type HTMLInputElement = any;

const CHROMIUM = process.env.MXWATCH_TEST_CHROMIUM ?? '/usr/bin/chromium';
const CHROMIUM_ARGS = ['--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run'];
const ARTIFACTS = path.join(ROOT, 'test-artifacts', 'pages');
const API_TOKEN = 'pages-e2e-api-token-0123456789';
const READ_TOKEN = 'pages-e2e-read-token-0123456789';
const RANK = ['ok', 'info', 'warning', 'critical'];

interface OpenFinding {
  code: string;
  severity: string;
  target: string;
}

async function launch(): Promise<Browser> {
  return chromium.launch({ executablePath: CHROMIUM, args: CHROMIUM_ARGS, timeout: 60_000 });
}

describe('Status pages in Chromium', () => {
  let net: FakeInternet;
  let app: RunningApp;
  let browser: Browser;
  let page: Page;
  let dropDb: () => Promise<void>;
  const auth = { authorization: `Bearer ${API_TOKEN}` };
  const ips: Record<string, string> = {};

  async function addDomain(name: string, labels: Record<string, string>, spec: Parameters<FakeInternet['addMailDomain']>[1]) {
    const d = await net.addMailDomain(name, spec);
    ips[name] = d.mx[0]?.ip ?? '';
    const r = await app.api('POST', '/api/v1/domains', { name, labels }, auth);
    expect(r.status, r.text).toBe(201);
  }

  async function check(name: string) {
    const r = await app.api('POST', `/api/v1/domains/${name}/check`, undefined, auth);
    expect(r.status, r.text).toBe(200);
    return r.body as { status: string };
  }

  async function openFindings(name: string): Promise<OpenFinding[]> {
    const r = await app.api('GET', `/api/v1/domains/${name}/status`, undefined, auth);
    expect(r.status, r.text).toBe(200);
    return r.body.openFindings as OpenFinding[];
  }

  const worstOf = (findings: OpenFinding[]) => findings.reduce((w, f) => (RANK.indexOf(f.severity) > RANK.indexOf(w) ? f.severity : w), 'ok');

  beforeAll(async () => {
    mkdirSync(ARTIFACTS, { recursive: true });
    net = await createFakeInternet();
    const db = await createTestDatabase('mxwatch_pages_e2e');
    dropDb = () => db.drop();
    app = await startApp({ ...net.env, DATABASE_URL: db.url, MXWATCH_API_TOKEN: API_TOKEN, MXWATCH_READ_TOKEN: READ_TOKEN, MXWATCH_CERT_WARN_DAYS: '14' });
    await addDomain('healthy.test', { env: 'prod', team: 'mail' }, { mx: [{ host: 'mx.healthy.test' }], txt: ['v=spf1 -all'] });
    await addDomain('expiring.test', { env: 'prod' }, { mx: [{ host: 'mx.expiring.test', behaviour25: 'expiring-cert' }] });
    await addDomain('closed.test', { env: 'dev' }, { mx: [{ host: 'mx.closed.test', behaviour25: 'closed' }] });
    await addDomain('nomail.test', { env: 'dev' }, { nullMx: true });
    await addDomain('flip.test', { env: 'dev' }, { mx: [{ host: 'mx.flip.test' }] });
    for (const name of ['healthy.test', 'expiring.test', 'closed.test', 'nomail.test', 'flip.test']) await check(name);
    browser = await launch();
    page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
  });

  afterAll(async () => {
    await browser?.close();
    await app?.stop();
    await net?.close();
    await dropDb?.();
  });

  it('should list every domain on the fleet page with the worst open severity, worst first', async () => {
    const expected: Record<string, string> = {};
    for (const name of Object.keys(ips)) expected[name] = worstOf(await openFindings(name));
    // What the rig guarantees whatever else later probes find.
    expect(expected['closed.test']).toBe('critical');
    expect(RANK.indexOf(expected['expiring.test']!)).toBeGreaterThanOrEqual(RANK.indexOf('warning'));
    expect(RANK.indexOf(expected['nomail.test']!)).toBeGreaterThanOrEqual(RANK.indexOf('info'));

    const response = await page.goto(`${app.baseUrl}/`);
    expect(response?.status()).toBe(200);
    expect(response?.headers()['content-security-policy']).toContain("script-src 'self'");
    const rows = await page.locator('tbody tr[data-domain]').evaluateAll((trs) => trs.map((tr) => [tr.getAttribute('data-domain'), tr.getAttribute('data-worst'), tr.querySelector('.badge')?.textContent]));
    expect(Object.fromEntries(rows.map(([d, w]) => [d, w]))).toEqual(expected);
    for (const [, worst, text] of rows) expect(text).toBe(worst);
    const ranks = rows.map(([, w]) => RANK.indexOf(w!));
    expect(ranks).toEqual([...ranks].sort((a, b) => b - a));
    // The "recently opened" strip names what the checks just opened.
    await expect(page.locator('li[data-event="opened"][data-domain="closed.test"][data-code="SMTP_PORT_UNREACHABLE"]').count()).resolves.toBe(1);
    await page.screenshot({ path: path.join(ARTIFACTS, 'fleet.png'), fullPage: true });
    const phone = await browser.newPage({ viewport: { width: 390, height: 844 }, isMobile: true });
    await phone.goto(`${app.baseUrl}/`);
    expect(await phone.evaluate(() => document.documentElement.scrollWidth)).toBeLessThanOrEqual(390);
    await phone.screenshot({ path: path.join(ARTIFACTS, 'fleet-phone.png'), fullPage: true });
    await phone.close();
  });

  it('should filter the fleet by label, severity and text on the server', async () => {
    await page.goto(`${app.baseUrl}/?label=env%3Dprod`);
    expect((await page.locator('tbody tr[data-domain]').evaluateAll((t) => t.map((r) => r.getAttribute('data-domain')))).sort()).toEqual(['expiring.test', 'healthy.test']);
    await page.goto(`${app.baseUrl}/?severity=critical`);
    expect(await page.locator('tbody tr[data-domain]').evaluateAll((t) => t.map((r) => r.getAttribute('data-worst')))).toEqual(expect.arrayContaining(['critical']));
    expect(new Set(await page.locator('tbody tr[data-domain]').evaluateAll((t) => t.map((r) => r.getAttribute('data-worst'))))).toEqual(new Set(['critical']));
    // Through the form, with the keyboard.
    await page.goto(`${app.baseUrl}/`);
    await page.getByLabel('Domain contains').fill('expir');
    await page.getByLabel('Domain contains').press('Enter');
    await page.waitForURL(/q=expir/);
    expect(await page.locator('tbody tr[data-domain]').evaluateAll((t) => t.map((r) => r.getAttribute('data-domain')))).toEqual(['expiring.test']);
    await page.goto(`${app.baseUrl}/?severity=bogus`);
    await expect(page.locator('[role="alert"]').textContent()).resolves.toContain('Severity must be one of');
  });

  it('should show a domain with its findings, remediation and certificate facts', async () => {
    const open = await openFindings('expiring.test');
    expect(open.map((f) => f.code)).toContain('TLS_CERT_EXPIRING');
    const response = await page.goto(`${app.baseUrl}/domains/expiring.test`);
    expect(response?.status()).toBe(200);
    const shown = await page.locator('ul.findings li').evaluateAll((lis) => lis.map((li) => `${li.getAttribute('data-code')} ${li.getAttribute('data-target')}`));
    expect(shown.sort()).toEqual(open.map((f) => `${f.code} ${f.target}`).sort());
    const expiring = page.locator('ul.findings li[data-code="TLS_CERT_EXPIRING"]');
    await expect(expiring.locator('.remediation').textContent()).resolves.toMatch(/What to do:\s+\S+/);

    const ip = ips['expiring.test']!;
    const port25 = page.locator(`section[data-host="mx.expiring.test"] [data-address="${ip}"] tr[data-port="25"]`);
    await expect(port25.count()).resolves.toBe(1);
    await expect(port25.locator('.cert').getAttribute('data-cert-subject')).resolves.toContain('mx.expiring.test');
    // The rig's certificate ends 5 days and 1 hour from when the server started.
    await expect(port25.locator('.days-left').getAttribute('data-days-left')).resolves.toBe('5');
    await expect(port25.locator('.days-left').textContent()).resolves.toBe('5 days left');
    await expect(port25.textContent()).resolves.toMatch(/TLSv1\.[23]/);
    await expect(port25.textContent()).resolves.toMatch(/offered/);
    // DNSBL state per address and zone.
    await expect(page.locator(`[data-address="${ip}"] tr[data-zone="zen.spamhaus.org"]`).getAttribute('data-state')).resolves.toBe('clean');
    // One strip per probe, and today's cell of the SMTP strip shows the check that just ran.
    const strip = page.locator('svg[data-probe="smtp"]');
    await expect(strip.getAttribute('aria-label')).resolves.toMatch(/^smtp, last 30 days: .*29 no data/);
    await expect(strip.locator('rect').last().getAttribute('data-state')).resolves.toBe('pass');
    await expect(page.locator('svg[data-probe="starttls"] rect').last().getAttribute('data-state')).resolves.toBe('warn');
    await page.screenshot({ path: path.join(ARTIFACTS, 'domain.png'), fullPage: true });
    await page.locator('section[aria-labelledby="timeline-h"]').screenshot({ path: path.join(ARTIFACTS, 'timeline.png') });

    const phone = await browser.newPage({ viewport: { width: 390, height: 844 }, isMobile: true });
    await phone.goto(`${app.baseUrl}/domains/expiring.test`);
    // Readable on a phone: the page itself never scrolls sideways (wide tables scroll in their own box).
    expect(await phone.evaluate(() => document.documentElement.scrollWidth)).toBeLessThanOrEqual(390);
    await phone.screenshot({ path: path.join(ARTIFACTS, 'domain-phone.png'), fullPage: true });
    await phone.close();
  });

  it('should have landmarks, a working skip link, and text contrast of at least 4.5:1 (WCAG AA)', async () => {
    for (const url of ['/', '/domains/expiring.test']) {
      await page.goto(`${app.baseUrl}${url}`);
      await expect(page.locator('header nav, main, footer').count()).resolves.toBe(3);
      await expect(page.locator('h1').count()).resolves.toBe(1);
      // Keyboard: the first Tab reaches the skip link, which moves focus to the content.
      await page.keyboard.press('Tab');
      await expect(page.evaluate(() => document.activeElement?.textContent)).resolves.toBe('Skip to content');
      await page.keyboard.press('Enter');
      await expect(page.evaluate(() => document.activeElement?.id)).resolves.toBe('main');
      // Every form control has a label.
      await expect(page.locator('input:not([type=hidden]), select').evaluateAll((els) => els.filter((e) => !(e as HTMLInputElement).labels?.length).length)).resolves.toBe(0);
      const worst = await page.evaluate(() => {
        const lum = (rgb: string) => {
          const [r, g, b] = rgb.match(/\d+(\.\d+)?/g)!.slice(0, 3).map((v) => {
            const c = Number(v) / 255;
            return c <= 0.03928 ? c / 12.92 : ((c + 0.055) / 1.055) ** 2.4;
          });
          return 0.2126 * r! + 0.7152 * g! + 0.0722 * b!;
        };
        const background = (el: Element | null): string => {
          for (let e = el; e; e = e.parentElement) {
            const bg = getComputedStyle(e).backgroundColor;
            if (!/rgba\(.*, 0\)$/.test(bg) && bg !== 'transparent') return bg;
          }
          return 'rgb(255, 255, 255)';
        };
        let min = { ratio: 21, text: '' };
        const walker = document.createTreeWalker(document.querySelector('main')!, NodeFilter.SHOW_TEXT);
        for (let n = walker.nextNode(); n; n = walker.nextNode()) {
          const el = n.parentElement!;
          if (!n.textContent!.trim() || el.closest('svg, details:not([open]) > :not(summary)')) continue;
          const [a, b] = [lum(getComputedStyle(el).color), lum(background(el))];
          const ratio = (Math.max(a, b) + 0.05) / (Math.min(a, b) + 0.05);
          if (ratio < min.ratio) min = { ratio, text: n.textContent!.trim().slice(0, 40) };
        }
        return min;
      });
      expect(worst.ratio, `lowest contrast on ${url}: "${worst.text}"`).toBeGreaterThanOrEqual(4.5);
    }
  });

  it('should answer 404 for a domain that is not monitored', async () => {
    const response = await page.goto(`${app.baseUrl}/domains/unknown.test`);
    expect(response?.status()).toBe(404);
    await expect(page.locator('h1').textContent()).resolves.toBe('Not found');
  });

  it('should refuse a wrong API token on "check now" and say so', async () => {
    await page.goto(`${app.baseUrl}/domains/flip.test`);
    await page.getByLabel('API token').fill('not-the-token');
    await page.getByRole('button', { name: 'Check now' }).click();
    await page.locator('#check-status.error').waitFor({ timeout: 15_000 });
    await expect(page.locator('#check-status').textContent()).resolves.toContain('The API token was refused.');
  });

  it('should run a check when "check now" is pressed and show its new findings after the reload', async () => {
    await page.goto(`${app.baseUrl}/domains/flip.test`);
    await expect(page.locator('ul.findings li[data-code="SMTP_PORT_UNREACHABLE"]').count()).resolves.toBe(0);
    await net.setBehaviour(ips['flip.test']!, 25, 'closed');
    await page.getByLabel('API token').fill(API_TOKEN);
    await page.getByLabel('API token').press('Enter');
    const finding = page.locator(`ul.findings li[data-code="SMTP_PORT_UNREACHABLE"][data-target="mx.flip.test[${ips['flip.test']}]:25"]`);
    await finding.waitFor({ timeout: 30_000 });
    await expect(finding.getAttribute('data-severity')).resolves.toBe('critical');
    await expect(page.locator(`tr[data-port="25"]`).first().textContent()).resolves.toContain('closed');
    await expect(page.locator('svg[data-probe="smtp"] rect').last().getAttribute('data-state')).resolves.toBe('fail');
    await page.screenshot({ path: path.join(ARTIFACTS, 'domain-after-check.png'), fullPage: true });
  });

  it('should show the policy changes the service recorded, newest first, weakening ones marked', async () => {
    await addDomain('policy.test', { env: 'dev' }, { mx: [{ host: 'mx.policy.test' }], txt: ['v=spf1 mx -all'] });
    await check('policy.test');
    net.dns.setRecords('policy.test', 'TXT', ['v=spf1 mx ~all']);
    await check('policy.test');
    const api = await app.api('GET', '/api/v1/domains/policy.test/changes', undefined, auth);
    expect(api.status, api.text).toBe(200);
    const items = (Array.isArray(api.body) ? api.body : api.body.items) as Array<{ kind: string }>;
    expect(items.map((c) => c.kind)).toContain('spf.all_loosened');
    await page.goto(`${app.baseUrl}/domains/policy.test`);
    const shown = await page.locator('ol.changes li').evaluateAll((lis) => lis.map((li) => li.getAttribute('data-kind')));
    expect(shown).toEqual(items.map((c) => c.kind));
    const loosened = page.locator('ol.changes li[data-kind="spf.all_loosened"]');
    await expect(loosened.locator('.badge').textContent()).resolves.toBe('warning');
    await expect(loosened.textContent()).resolves.toContain('-all → ~all');
    await page.locator('section[aria-labelledby="changes-h"]').screenshot({ path: path.join(ARTIFACTS, 'changes.png') });
  });

  it('should escape what a domain\'s operator controls (labels) wherever the pages show it', async () => {
    const r = await app.api('PATCH', '/api/v1/domains/healthy.test', { labels: { env: 'prod', note: '<img src=x onerror=alert(1)>"\'`' } }, auth);
    expect(r.status, r.text).toBe(200);
    let dialogs = 0;
    page.on('dialog', (d) => (dialogs++, d.dismiss()));
    await page.goto(`${app.baseUrl}/?q=healthy`);
    await expect(page.locator('img').count()).resolves.toBe(0);
    await expect(page.locator('tr[data-domain="healthy.test"]').textContent()).resolves.toContain('<img src=x onerror=alert(1)>');
    expect(dialogs).toBe(0);
  });
});

describe('Status pages with MXWATCH_UI_AUTH=token', () => {
  let app: RunningApp;
  let browser: Browser;
  let dropDb: () => Promise<void>;
  let net: FakeInternet;

  beforeAll(async () => {
    net = await createFakeInternet();
    const db = await createTestDatabase('mxwatch_pages_auth_e2e');
    dropDb = () => db.drop();
    app = await startApp({ ...net.env, DATABASE_URL: db.url, MXWATCH_API_TOKEN: API_TOKEN, MXWATCH_READ_TOKEN: READ_TOKEN, MXWATCH_UI_AUTH: 'token' });
    browser = await launch();
  });

  afterAll(async () => {
    await browser?.close();
    await app?.stop();
    await net?.close();
    await dropDb?.();
  });

  it('should send a browser without a session to the login form, and back after a good token', async () => {
    const page = await browser.newPage();
    await page.goto(`${app.baseUrl}/?severity=critical`);
    expect(new URL(page.url()).pathname).toBe('/login');
    await page.getByLabel('Token').fill('wrong-token-wrong-token');
    await page.getByRole('button', { name: 'Sign in' }).click();
    await expect(page.locator('[role="alert"]').textContent()).resolves.toContain('not the read token');
    await page.getByLabel('Token').fill(READ_TOKEN);
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.waitForURL(`${app.baseUrl}/?severity=critical`);
    await expect(page.locator('h1').textContent()).resolves.toBe('Fleet');
    const cookies = await page.context().cookies();
    expect(cookies.find((c) => c.name === 'mxwatch_ui')).toMatchObject({ httpOnly: true, sameSite: 'Strict' });
    expect(JSON.stringify(cookies)).not.toContain(READ_TOKEN);
    await page.getByRole('button', { name: 'Sign out' }).click();
    await page.goto(`${app.baseUrl}/`);
    expect(new URL(page.url()).pathname).toBe('/login');
    await page.close();
  });

  it('should accept the read or API token as Bearer and refuse a wrong one with 401', async () => {
    for (const token of [READ_TOKEN, API_TOKEN]) {
      const r = await fetch(`${app.baseUrl}/`, { headers: { authorization: `Bearer ${token}` } });
      expect(r.status).toBe(200);
    }
    expect((await fetch(`${app.baseUrl}/domains/a.test`, { headers: { authorization: 'Bearer nope' } })).status).toBe(401);
    const anonymous = await fetch(`${app.baseUrl}/`, { redirect: 'manual' });
    expect(anonymous.status).toBe(303);
    expect(anonymous.headers.get('location')).toBe('/login?next=%2F');
    // The stylesheet and script stay public so the login form is styled.
    expect((await fetch(`${app.baseUrl}/assets/mxwatch.css`)).status).toBe(200);
  });
});
