import { afterAll, beforeAll, expect, test } from '@jest/globals';
import { rmSync } from 'node:fs';
import { Secret, TOTP } from 'otpauth';
import type { Browser, Page } from 'playwright-core';
import { sleep } from '../support/services.js';
import { PASSWORD, uniqueEmail } from '../support/app.js';
import { type BrowserTestServer, describeBrowser, launchChromium, startServer } from '../support/browser.js';

/*
 * Two-factor authentication on the demo page, in real Chromium against the production build: set
 * up an authenticator app from the QR code's URI (codes computed here with otpauth, as a phone
 * would), log out, log in with the password and a code, then with a recovery code.
 *
 * Time: the server uses its real clock. Each step's code works once, so the login waits for the
 * step after the confirming code's (at most 30 s), and every code is typed with at least 5 s of its
 * step left; the ±1-step window absorbs a boundary crossed while the request travels.
 */
const WAIT = { timeout: 30_000 };
const STEP_MS = 30_000;

describeBrowser('two-factor authentication on the demo page (headless Chromium)', () => {
  let server: BrowserTestServer | undefined;
  let base: string;
  let browser: Browser;

  beforeAll(async () => {
    server = await startServer({});
    base = server.base;
    browser = await launchChromium();
  }, 240_000);

  afterAll(async () => {
    await browser?.close();
    server?.server.kill('SIGTERM');
    await sleep(500);
    if (server) rmSync(server.dataDir, { recursive: true, force: true });
  });

  /** The code of a step that has at least 5 s left, and that step. */
  async function freshCode(totp: TOTP, after = -1): Promise<{ code: string; step: number }> {
    for (;;) {
      const now = Date.now();
      const step = Math.floor(now / STEP_MS);
      const left = (step + 1) * STEP_MS - now;
      if (step > after && left >= 5_000) return { code: totp.generate({ timestamp: now }), step };
      await sleep(step > after ? left + 100 : (after + 1) * STEP_MS - now + 100);
    }
  }

  async function logInWithPassword(page: Page, email: string) {
    const form = page.locator('#login-form');
    await form.getByLabel('Email').fill(email);
    await form.getByLabel('Password').fill(PASSWORD);
    await form.getByRole('button', { name: 'Log in' }).click();
  }

  async function logOut(page: Page) {
    await page.locator('#logout').click();
    await page.locator('#signed-out').waitFor({ state: 'visible', ...WAIT });
  }

  test('enrol from the QR code, then log in with password and code, and with a recovery code', async () => {
    const email = uniqueEmail('browser-mfa');
    const registered = await fetch(`${base}/auth/register`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ email, password: PASSWORD }),
    });
    expect(registered.status).toBe(201);

    const context = await browser.newContext();
    const page = await context.newPage();
    const errors: string[] = [];
    page.on('pageerror', (error) => errors.push(error.message));
    await page.goto(`${base}/demo`);
    await page.locator('#signed-out').waitFor({ state: 'visible', ...WAIT });
    await logInWithPassword(page, email);
    await page.locator('#me-email', { hasText: email }).waitFor(WAIT);
    await page.locator('#mfa-state', { hasText: 'off' }).waitFor(WAIT);

    // Enrol: the QR code is drawn from the otpauth URI, whose secret is the key shown.
    await page.getByRole('button', { name: 'Set up an authenticator app' }).click();
    await page.locator('#totp-enrolment').waitFor({ state: 'visible', ...WAIT });
    const secret = (await page.locator('#totp-secret').textContent())!;
    expect(secret).toMatch(/^[A-Z2-7]{32}$/);
    const uri = (await page.locator('#totp-qr').getAttribute('data-uri'))!;
    expect(new URL(uri).searchParams.get('secret')).toBe(secret);
    expect(await page.locator('#totp-qr svg rect').count()).toBeGreaterThan(100);
    const totp = new TOTP({ secret: Secret.fromBase32(secret) });

    // A wrong code is refused inline; the right one turns it on and shows the recovery codes once.
    const confirmForm = page.locator('#totp-confirm-form');
    const first = await freshCode(totp);
    await confirmForm.getByLabel('Code from the app').fill(first.code === '000000' ? '111111' : '000000');
    await confirmForm.getByRole('button', { name: 'Turn on' }).click();
    await page.locator('#totp-confirm-error').filter({ hasText: /./ }).waitFor(WAIT);
    await confirmForm.getByLabel('Code from the app').fill(first.code);
    await confirmForm.getByRole('button', { name: 'Turn on' }).click();
    await page.locator('#recovery-codes-card').waitFor({ state: 'visible', ...WAIT });
    const recoveryCodes = await page.locator('#recovery-codes li').allTextContents();
    expect(recoveryCodes).toHaveLength(10);
    await page.locator('#mfa-state', { hasText: 'on (10 recovery codes left)' }).waitFor(WAIT);
    await page.getByRole('button', { name: 'I have saved them' }).click();
    expect(await page.locator('#recovery-codes li').count()).toBe(0);

    // Log out, log in: the password asks for the code; a wrong one is refused; the right one logs in.
    await logOut(page);
    await logInWithPassword(page, email);
    const mfaForm = page.locator('#mfa-login-form');
    await mfaForm.waitFor({ state: 'visible', ...WAIT });
    expect(await page.locator('#signed-in').isHidden()).toBe(true);
    const second = await freshCode(totp, first.step);
    await mfaForm.getByLabel('Code').fill(second.code === '000000' ? '111111' : '000000');
    await mfaForm.getByRole('button', { name: 'Verify' }).click();
    await page.locator('#mfa-login-error').filter({ hasText: /./ }).waitFor(WAIT);
    await mfaForm.getByLabel('Code').fill(second.code);
    await mfaForm.getByRole('button', { name: 'Verify' }).click();
    await page.locator('#me-email', { hasText: email }).waitFor(WAIT);
    const sessions = (await page.evaluate(async () => {
      const client = (window as unknown as { tessera: { sessions(): Promise<unknown[]> } }).tessera;
      return client.sessions();
    })) as { current: boolean; acr: string }[];
    expect(sessions.find((s) => s.current)?.acr).toBe('urn:tessera:aal2');

    // And with a recovery code instead.
    await logOut(page);
    await logInWithPassword(page, email);
    await mfaForm.waitFor({ state: 'visible', ...WAIT });
    await mfaForm.getByLabel('Code').fill(recoveryCodes[0]);
    await mfaForm.getByRole('button', { name: 'Verify' }).click();
    await page.locator('#me-email', { hasText: email }).waitFor(WAIT);
    await page.locator('#mfa-state', { hasText: 'on (9 recovery codes left)' }).waitFor(WAIT);

    // No script error on the page (failed requests, like the 401s of wrong codes, are not script errors).
    expect(errors).toEqual([]);
    await context.close();
  }, 180_000);
});
