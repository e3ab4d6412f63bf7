import { afterAll, beforeAll, expect, test } from '@jest/globals';
import { rmSync } from 'node:fs';
import type { Browser, BrowserContext, CDPSession, Page } from 'playwright-core';
import { PASSWORD, uniqueEmail } from '../support/app.js';
import { type BrowserTestServer, describeBrowser, launchChromium, startServer } from '../support/browser.js';
import { sleep } from '../support/services.js';

/*
 * Passkeys in real Chromium against the production build, with a DevTools virtual authenticator
 * (CTAP2, internal, resident keys, user verification) standing in for the platform's. The page is
 * opened on http://localhost:<port> (a secure context whose RP ID is `localhost`: WebAuthn refuses
 * IP addresses), and the server derives its relying party from the request, as in development.
 * Every wait is for a condition, never a duration.
 */
const WAIT = { timeout: 30_000 };

describeBrowser('passkeys in a real browser (headless Chromium, virtual authenticator)', () => {
  let server: BrowserTestServer | undefined;
  let origin: string;
  let browser: Browser;

  beforeAll(async () => {
    server = await startServer({});
    origin = server.base.replace('127.0.0.1', 'localhost');
    browser = await launchChromium();
  }, 240_000);

  afterAll(async () => {
    await browser?.close();
    server?.server.kill('SIGTERM');
    await sleep(500);
    if (server) rmSync(server.dataDir, { recursive: true, force: true });
  });

  /** A new browser profile with a virtual authenticator of its own, on the demo page. */
  async function openDemo(): Promise<{ context: BrowserContext; page: Page; cdp: CDPSession; authenticatorId: string }> {
    const context = await browser.newContext();
    const page = await context.newPage();
    const cdp = await context.newCDPSession(page);
    await cdp.send('WebAuthn.enable');
    const { authenticatorId } = await cdp.send('WebAuthn.addVirtualAuthenticator', {
      options: { protocol: 'ctap2', transport: 'internal', hasResidentKey: true, hasUserVerification: true, isUserVerified: true },
    });
    await page.goto(`${origin}/demo`);
    return { context, page, cdp, authenticatorId };
  }

  async function registerAndLogIn(page: Page, email: string): Promise<void> {
    const form = page.locator('#register-form');
    await form.locator('input[name=email]').fill(email);
    await form.locator('input[name=password]').fill(PASSWORD);
    await form.locator('button[type=submit]').click();
    await page.locator('#signed-in').waitFor({ state: 'visible', ...WAIT });
  }

  async function addPasskey(page: Page, name: string): Promise<void> {
    await page.locator('#passkey-add-form input[name=name]').fill(name);
    await page.locator('#passkey-add-form button[type=submit]').click();
    await page.locator('#passkeys-result', { hasText: 'Passkey added' }).waitFor(WAIT);
    await page.locator('#passkeys tr').first().waitFor(WAIT);
  }

  async function logOut(page: Page): Promise<void> {
    await page.locator('#logout').click();
    await page.locator('#signed-out').waitFor({ state: 'visible', ...WAIT });
  }

  test('register a passkey on the demo page, log out, log in with it alone (aal2), remove it, and it logs in no more', async () => {
    const { context, page, cdp, authenticatorId } = await openDemo();
    const email = uniqueEmail('passkey');
    await registerAndLogIn(page, email);
    await addPasskey(page, 'Virtual laptop');
    await expect(page.locator('#passkeys tr input').inputValue()).resolves.toBe('Virtual laptop');
    const { credentials } = await cdp.send('WebAuthn.getCredentials', { authenticatorId });
    expect(credentials).toHaveLength(1);
    expect(credentials[0].isResidentCredential).toBe(true);

    await logOut(page);
    await page.locator('#passkey-login').click();
    await page.locator('#signed-in').waitFor({ state: 'visible', ...WAIT });
    await expect(page.locator('#me-email').textContent()).resolves.toBe(email);
    await expect(page.locator('#status').textContent()).resolves.toBe('Logged in with a passkey');
    const claims = await page.evaluate(async () => {
      const tessera = (window as unknown as { tessera: { fetch(path: string): Promise<Response> } }).tessera;
      const sessions = (await (await tessera.fetch('/auth/sessions')).json()) as { current: boolean; amr: string[]; acr: string }[];
      return sessions.find((s) => s.current);
    });
    expect(claims).toMatchObject({ amr: ['hwk', 'user', 'mfa'], acr: 'urn:tessera:aal2' });

    // Rename, then remove (a fresh login: no step-up needed).
    await page.locator('#passkeys tr input').fill('Renamed laptop');
    await page.locator('#passkeys tr button', { hasText: 'Rename' }).click();
    await page.locator('#passkeys-result', { hasText: 'Passkey renamed' }).waitFor(WAIT);
    await page.locator('#passkeys tr button', { hasText: 'Remove' }).click();
    await page.locator('#passkeys-result', { hasText: 'Passkey removed' }).waitFor(WAIT);
    await page.waitForFunction(() => document.querySelectorAll('#passkeys tr').length === 0, undefined, WAIT);

    // The authenticator still holds the credential, but the server no longer knows it.
    await logOut(page);
    await page.locator('#passkey-login').click();
    await page.locator('#status', { hasText: 'passkey could not be verified' }).waitFor(WAIT);
    await expect(page.locator('#signed-out').isVisible()).resolves.toBe(true);
    await context.close();
  });

  test('a login response captured in the page and posted again is refused', async () => {
    const { context, page } = await openDemo();
    await registerAndLogIn(page, uniqueEmail('replay'));
    await addPasskey(page, 'Replay key');
    await logOut(page);
    const statuses = await page.evaluate(async () => {
      const post = (path: string, body: unknown) =>
        fetch(path, {
          method: 'POST',
          credentials: 'include',
          headers: { 'Content-Type': 'application/json' },
          body: JSON.stringify(body),
        });
      const options = (await (await post('/auth/passkeys/login/options', {})).json()) as PublicKeyCredentialRequestOptionsJSON;
      const credential = (await navigator.credentials.get({
        publicKey: PublicKeyCredential.parseRequestOptionsFromJSON(options),
      })) as PublicKeyCredential;
      const response = credential.toJSON();
      const first = await post('/auth/passkeys/login', { response });
      const again = await post('/auth/passkeys/login', { response });
      return [first.status, again.status, ((await again.json()) as { code: string }).code];
    });
    expect(statuses).toEqual([200, 401, 'invalid_passkey']);
    await context.close();
  });
});
