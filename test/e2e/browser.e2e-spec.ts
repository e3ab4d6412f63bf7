import { afterAll, beforeAll, expect, test } from '@jest/globals';
import { mkdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { sleep } from '../support/services.js';
import { PASSWORD, uniqueEmail } from '../support/app.js';
import { describeBrowser, launchChromium, SCREENSHOTS, startServer } from '../support/browser.js';

/*
 * Real Chromium (Debian's package, driven by playwright-core; no browser download) against the
 * production build, with a short access-token lifetime. CI installs chromium and fails here rather
 * than skip; elsewhere the suite is skipped when /usr/bin/chromium is missing (test/support/browser.ts).
 */
/** On the short-lived server, access tokens live 2 s (+5 s clock leeway on verification): a silent refresh is due after ~7 s. */
const ACCESS_TOKEN_SECONDS = 2;

describeBrowser('in a real browser (headless Chromium)', () => {
  /*
   * Two servers: one with the default access-token lifetime for everything that must not depend on
   * how fast this machine is (a person in Swagger UI has minutes, not seconds), and one whose access
   * tokens expire after 2 s, only for the test that waits for an expiry on purpose.
   */
  let servers: Awaited<ReturnType<typeof startServer>>[];
  let base: string;
  let shortLivedBase: string;
  let browser: Browser;

  beforeAll(async () => {
    servers = await Promise.all([startServer({}), startServer({ ACCESS_TOKEN_TTL: `${ACCESS_TOKEN_SECONDS}s` })]);
    [base, shortLivedBase] = servers.map((s) => s.base);
    browser = await launchChromium();
    mkdirSync(SCREENSHOTS, { recursive: true });
  }, 240_000);

  afterAll(async () => {
    await browser?.close();
    for (const { server } of servers ?? []) server.kill('SIGTERM');
    await sleep(500);
    for (const { dataDir } of servers ?? []) rmSync(dataDir, { recursive: true, force: true });
  });

  async function register(email: string, at = base) {
    const response = await fetch(`${at}/auth/register`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ email, password: PASSWORD }),
    });
    expect(response.status).toBe(201);
  }

  /** Opens the demo page and logs in through its form. */
  async function logInOnDemoPage(context: BrowserContext, email: string, at = base): Promise<Page> {
    const page = await context.newPage();
    await page.goto(`${at}/demo`);
    await page.locator('#login-form input[name=email]').fill(email);
    await page.locator('#login-form input[name=password]').fill(PASSWORD);
    await page.locator('#login-form button[type=submit]').click();
    await expectSignedIn(page, email);
    return page;
  }

  async function expectSignedIn(page: Page, email?: string) {
    await page.locator('#signed-in').waitFor({ state: 'visible', timeout: 10_000 });
    if (email) await page.locator('#me-email', { hasText: email }).waitFor({ timeout: 10_000 });
  }

  async function expectSignedOut(page: Page) {
    await page.locator('#signed-out').waitFor({ state: 'visible', timeout: 10_000 });
  }

  test('after login, page scripts can see no token: not in document.cookie, not in web storage', async () => {
    const email = uniqueEmail('browser');
    await register(email);
    const context = await browser.newContext();
    const page = await logInOnDemoPage(context, email);
    const seen = await page.evaluate(() => ({
      cookie: document.cookie,
      local: JSON.stringify({ ...localStorage }),
      session: JSON.stringify({ ...sessionStorage }),
    }));
    expect(seen.cookie).not.toMatch(/refresh_token/);
    expect(seen.local).toBe('{}');
    expect(seen.session).toBe('{}');
    // The cookie is there all the same, HttpOnly, Secure, SameSite=Strict, scoped to /auth.
    const cookie = (await context.cookies()).find((c) => c.name === '__Secure-refresh_token');
    expect(cookie).toMatchObject({ httpOnly: true, secure: true, sameSite: 'Strict', path: '/auth' });
    await page.screenshot({ path: join(SCREENSHOTS, 'demo-signed-in.png'), fullPage: true });
    await context.close();
  });

  test('after the access token expires, a call from the page succeeds through a silent refresh', async () => {
    const email = uniqueEmail('browser');
    await register(email, shortLivedBase);
    const context = await browser.newContext();
    const page = await logInOnDemoPage(context, email, shortLivedBase);
    const refreshes: number[] = [];
    page.on('response', (response) => {
      if (response.url().endsWith('/auth/refresh')) refreshes.push(response.status());
    });
    // Waits until the token has certainly expired (2 s + 5 s leeway): a slower machine only waits longer.
    await sleep((ACCESS_TOKEN_SECONDS + 5 + 1) * 1000);
    await page.locator('#call-me').click();
    await expect(page.locator('#me-result').filter({ hasText: '200' }).textContent({ timeout: 10_000 })).resolves.toContain('→ 200');
    expect(refreshes).toEqual([200]);
    await context.close();
  }, 30_000);

  test('two tabs refreshing at the same moment both stay logged in (no false theft alarm)', async () => {
    const email = uniqueEmail('browser');
    await register(email);
    const context = await browser.newContext();
    const first = await logInOnDemoPage(context, email);
    const second = await context.newPage();
    await second.goto(`${base}/demo`);
    await expectSignedIn(second, email);
    const refresh = (page: Page) =>
      page.evaluate(() => (window as unknown as { tessera: { refresh(): Promise<boolean> } }).tessera.refresh());
    expect(await Promise.all([refresh(first), refresh(second)])).toEqual([true, true]);
    // Both still work, and the chain goes on.
    expect(await Promise.all([refresh(first), refresh(second)])).toEqual([true, true]);
    for (const page of [first, second]) {
      await page.locator('#call-me').click();
      await expect(page.locator('#me-result').filter({ hasText: '200' }).textContent({ timeout: 10_000 })).resolves.toContain('→ 200');
    }
    await context.close();
  }, 30_000);

  test('a reload keeps the user logged in; a logout in one tab logs out the other', async () => {
    const email = uniqueEmail('browser');
    await register(email);
    const context = await browser.newContext();
    const first = await logInOnDemoPage(context, email);
    await first.reload();
    await expectSignedIn(first, email);
    const second = await context.newPage();
    await second.goto(`${base}/demo`);
    await expectSignedIn(second, email);
    await first.locator('#logout').click();
    await expectSignedOut(first);
    await expectSignedOut(second);
    await second.reload();
    await expectSignedOut(second);
    await context.close();
  }, 30_000);

  test('revoking a session from another browser logs that browser out on its next call', async () => {
    const email = uniqueEmail('browser');
    await register(email);
    const laptop = await browser.newContext({ userAgent: 'Laptop browser' });
    const phone = await browser.newContext({ userAgent: 'Phone browser' });
    const laptopPage = await logInOnDemoPage(laptop, email);
    const phonePage = await logInOnDemoPage(phone, email);
    await laptopPage.reload();
    await expectSignedIn(laptopPage, email);
    const phoneRow = laptopPage.locator('#sessions tr', { hasText: 'Phone browser' });
    await phoneRow.getByRole('button').click();
    await phoneRow.waitFor({ state: 'detached', timeout: 10_000 });
    await phonePage.locator('#call-me').click();
    await expectSignedOut(phonePage);
    await expectSignedIn(laptopPage, email);
    await laptop.close();
    await phone.close();
  }, 30_000);

  test('Swagger UI: authorize with a token, call /users/me from the UI, see 200', async () => {
    const email = uniqueEmail('swagger');
    await register(email);
    const login = await fetch(`${base}/auth/login`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ email, password: PASSWORD, client: 'native' }),
    });
    const { accessToken } = (await login.json()) as { accessToken: string };
    const context = await browser.newContext();
    const page = await context.newPage();
    await page.goto(`${base}/docs`);
    await page.locator('.btn.authorize').click();
    await page.locator('#auth-bearer-value').fill(accessToken);
    const bearerForm = page.locator('.auth-container').first();
    await bearerForm.locator('button.authorize').click();
    await bearerForm.locator('button.btn-done').click();
    const operation = page.locator('#operations-users-UsersController_me');
    await operation.locator('.opblock-summary').click();
    // "Try it out" is on by default (swaggerOptions.tryItOutEnabled): Execute is there at once.
    await operation.getByRole('button', { name: 'Execute' }).click();
    const status = operation.locator('.live-responses-table .response .response-col_status').first();
    await expect(status.textContent({ timeout: 10_000 })).resolves.toContain('200');
    await expect(operation.locator('.live-responses-table').textContent()).resolves.toContain(email);
    await page.screenshot({ path: join(SCREENSHOTS, 'swagger-users-me.png'), fullPage: false });
    await context.close();
  }, 30_000);
});
