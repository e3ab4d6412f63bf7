import { afterAll, beforeAll, expect, test } from '@jest/globals';
import { mkdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import type { Browser, BrowserContext, Page, Response } from 'playwright-core';
import { sleep } from '../support/services.js';
import { PASSWORD, uniqueEmail } from '../support/app.js';
import { type BrowserTestServer, describeBrowser, launchChromium, SCREENSHOTS, startServer } from '../support/browser.js';
import { TestMailbox } from '../support/mailbox.js';

/*
 * The account lifecycle on the demo page, in real Chromium against the production build: the
 * server mails through SMTP to a TestMailbox in this process, and has no APP_URL, so its links
 * point at its own /demo/verify-email and /demo/reset-password.
 *
 * Nothing here races the clock: link lifetimes are the defaults (30 min, 24 h), and every wait is
 * for a condition, with limits far above what a loaded machine needs.
 */
const WAIT = { timeout: 30_000 };
const MAIL_WAIT = { timeoutMs: 60_000 };
/** The subjects of the shipped templates (mail-templates/<name>/subject.txt). */
const RESET_MAIL = /^Reset your /;
const VERIFY_MAIL = /^Verify your email address/;
const EMAIL_CHANGE_MAIL = /^Confirm your new email address/;
/** 14 characters: clears any old minimum (10), under PASSWORD_MIN_LENGTH's default of 15. */
const TOO_SHORT = 'too short pass';
const NEW_PASSWORD = 'lantern harbour quietly sings';

describeBrowser('the account lifecycle in a real browser (headless Chromium)', () => {
  let mailbox: TestMailbox;
  let server: BrowserTestServer | undefined;
  let base: string;
  let browser: Browser;

  beforeAll(async () => {
    mailbox = await new TestMailbox().start();
    server = await startServer({ SMTP_URL: mailbox.url });
    base = server.base;
    browser = await launchChromium();
    mkdirSync(SCREENSHOTS, { recursive: true });
  }, 240_000);

  afterAll(async () => {
    await browser?.close();
    server?.server.kill('SIGTERM');
    await sleep(500);
    if (server) rmSync(server.dataDir, { recursive: true, force: true });
    await mailbox?.stop();
  });

  async function register(email: string) {
    const response = await fetch(`${base}/auth/register`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ email, password: PASSWORD }),
    });
    expect(response.status).toBe(201);
  }

  async function httpLogin(email: string, password: string): Promise<number> {
    const response = await fetch(`${base}/auth/login`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ email, password, client: 'native' }),
    });
    return response.status;
  }

  /** Logs in through the demo page's form (the page must show it). */
  async function logIn(page: Page, email: string, password: string) {
    const form = page.locator('#login-form');
    await form.getByLabel('Email').fill(email);
    await form.getByLabel('Password').fill(password);
    await form.getByRole('button', { name: 'Log in' }).click();
    await expectSignedIn(page, email);
  }

  async function expectSignedIn(page: Page, email: string) {
    await page.locator('#signed-in').waitFor({ state: 'visible', ...WAIT });
    await page.locator('#me-email', { hasText: email }).waitFor(WAIT);
  }

  /** The address bar lost the link's token (history.replaceState), keeping the path. */
  async function expectTokenGone(page: Page, path: string) {
    await page.waitForFunction(() => !new URLSearchParams(location.search).has('token'), undefined, WAIT);
    expect(page.url()).toBe(`${base}${path}`);
  }

  function problemOf(response: Response): Promise<{ code?: string; errors?: { field: string; message: string }[] }> {
    return response.json() as Promise<{ code?: string; errors?: { field: string; message: string }[] }>;
  }

  test('a forgotten password: mail, link, a weak then a good password, and a login with it', async () => {
    const email = uniqueEmail('reset');
    await register(email);
    const context: BrowserContext = await browser.newContext();
    const page = await context.newPage();
    await page.goto(`${base}/demo`);
    await page.locator('#signed-out').waitFor({ state: 'visible', ...WAIT });

    const toggle = page.getByRole('button', { name: 'Forgot password?' });
    await toggle.click();
    expect(await toggle.getAttribute('aria-expanded')).toBe('true');
    const forgot = page.locator('#forgot-form');
    await forgot.getByLabel('Email').fill(email);
    await forgot.getByRole('button', { name: 'Send reset link' }).click();
    await forgot.getByText('If an account exists for that address, a mail is on its way').waitFor(WAIT);

    const mail = await mailbox.waitFor(email, RESET_MAIL, MAIL_WAIT);
    expect(mail.link).toBeDefined();
    expect(mail.token).toBeTruthy();
    const link = new URL(mail.link!);
    expect(`${link.origin}${link.pathname}`).toBe(`${base}/demo/reset-password`);

    await page.goto(mail.link!);
    const reset = page.locator('#reset-form');
    await reset.waitFor({ state: 'visible', ...WAIT });
    await expectTokenGone(page, '/demo/reset-password');

    // A weak password: the server's weak_password message, inline at the field.
    const newPassword = reset.getByLabel('New password');
    await newPassword.fill(TOO_SHORT);
    const weakAnswer = page.waitForResponse((r) => r.url() === `${base}/auth/password/reset`, WAIT);
    await reset.getByRole('button', { name: 'Set new password' }).click();
    const weak = await weakAnswer;
    expect(weak.status()).toBe(400);
    const weakProblem = await problemOf(weak);
    expect(weakProblem.code).toBe('weak_password');
    expect(weakProblem.errors?.[0]?.field).toBe('newPassword');
    const inline = page.locator('#reset-error');
    await inline.filter({ hasText: weakProblem.errors![0].message }).waitFor(WAIT);
    expect(await newPassword.getAttribute('aria-invalid')).toBe('true');
    expect(await reset.isVisible()).toBe(true);
    await page.screenshot({ path: join(SCREENSHOTS, 'demo-reset-weak-password.png'), fullPage: true });

    // A good one: done, and the page says to log in.
    await newPassword.fill(NEW_PASSWORD);
    const goodAnswer = page.waitForResponse((r) => r.url() === `${base}/auth/password/reset`, WAIT);
    await reset.getByRole('button', { name: 'Set new password' }).click();
    expect((await goodAnswer).status()).toBe(204);
    await page.locator('#status', { hasText: 'Log in with your new password' }).waitFor(WAIT);
    await reset.waitFor({ state: 'hidden', ...WAIT });
    expect(await inline.textContent()).toBe('');

    // The new password logs in on the page; the old one no longer does; the link is spent.
    await logIn(page, email, NEW_PASSWORD);
    expect(await httpLogin(email, PASSWORD)).toBe(401);
    const reused = await fetch(`${base}/auth/password/reset`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ token: mail.token, newPassword: 'another fine passphrase here' }),
    });
    expect(reused.status).toBe(400);
    expect(((await reused.json()) as { code: string }).code).toBe('link_invalid');
    await context.close();
  }, 180_000);

  test('verify-email: the page shows the address unverified, sends a new link, and the mailed link verifies it', async () => {
    const email = uniqueEmail('verify');
    await register(email);
    const context = await browser.newContext();
    const page = await context.newPage();
    await page.goto(`${base}/demo`);
    await page.locator('#signed-out').waitFor({ state: 'visible', ...WAIT });
    await logIn(page, email, PASSWORD);
    await page.locator('#me-verified', { hasText: /^not verified$/ }).waitFor(WAIT);

    const resend = page.getByRole('button', { name: 'Send a new verification mail' });
    await resend.click();
    await page.locator('#status', { hasText: 'A new verification mail is on its way' }).waitFor(WAIT);

    /*
     * Registration may have mailed a link too, which the new one supersedes (link_invalid). The
     * mails' arrival order is not theirs to promise, so each link is opened as it arrives until one
     * verifies: at most the two this account was sent.
     */
    let verified = false;
    for (let count = 1; count <= 2 && !verified; count++) {
      const mail = await mailbox.waitFor(email, VERIFY_MAIL, { ...MAIL_WAIT, count });
      const link = new URL(mail.link!);
      expect(`${link.origin}${link.pathname}`).toBe(`${base}/demo/verify-email`);
      await page.goto(mail.link!);
      const result = page.locator('#verify-result');
      await page.waitForFunction(
        () => {
          const text = document.getElementById('verify-result')?.textContent ?? '';
          return text !== '' && !text.startsWith('Verifying');
        },
        undefined,
        WAIT,
      );
      await expectTokenGone(page, '/demo/verify-email');
      verified = (await result.textContent()) === 'Your email address is verified.';
    }
    expect(verified).toBe(true);

    // Still logged in (the session survived the navigation through its cookie), now verified.
    await expectSignedIn(page, email);
    await page.locator('#me-verified', { hasText: /^verified$/ }).waitFor(WAIT);
    expect(await resend.isVisible()).toBe(false);
    const me = await page.evaluate(() => (window as unknown as { tessera: { me(): Promise<{ emailVerified?: boolean }> } }).tessera.me());
    expect(me.emailVerified).toBe(true);
    await page.screenshot({ path: join(SCREENSHOTS, 'demo-email-verified.png'), fullPage: true });
    await context.close();
  }, 180_000);

  test('change email: a wrong password is refused inline; the link mailed to the new address completes the change', async () => {
    const email = uniqueEmail('change');
    const newEmail = uniqueEmail('changed');
    await register(email);
    const context = await browser.newContext();
    const page = await context.newPage();
    await page.goto(`${base}/demo`);
    await page.locator('#signed-out').waitFor({ state: 'visible', ...WAIT });
    await logIn(page, email, PASSWORD);

    const form = page.locator('#change-email-form');
    await form.getByLabel('New email').fill(newEmail);
    await form.getByLabel('Current password').fill('not the password at all');
    const refusal = page.waitForResponse((r) => r.url() === `${base}/auth/email/change`, WAIT);
    await form.getByRole('button', { name: 'Change email' }).click();
    const refused = await refusal;
    expect(refused.status()).toBe(400);
    const problem = await problemOf(refused);
    expect(problem.code).toBe('validation_failed');
    const message = problem.errors?.find((e) => e.field === 'currentPassword')?.message;
    expect(message).toBeTruthy();
    await page.locator('#change-email-error').filter({ hasText: message! }).waitFor(WAIT);

    await form.getByLabel('New email').fill(newEmail);
    await form.getByLabel('Current password').fill(PASSWORD);
    await form.getByRole('button', { name: 'Change email' }).click();
    await page.locator('#status', { hasText: `A confirmation link is on its way to ${newEmail}` }).waitFor(WAIT);
    expect(await page.locator('#change-email-error').textContent()).toBe('');

    const mail = await mailbox.waitFor(newEmail, EMAIL_CHANGE_MAIL, MAIL_WAIT);
    await page.goto(mail.link!);
    await page.locator('#verify-result', { hasText: 'Your email address is verified.' }).waitFor(WAIT);
    await expectTokenGone(page, '/demo/verify-email');
    await expectSignedIn(page, newEmail);
    await context.close();
  }, 180_000);
});
