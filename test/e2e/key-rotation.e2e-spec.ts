import { afterAll, beforeAll, describe, expect, test } from '@jest/globals';
import { createHmac, createPublicKey, generateKeyPairSync, hkdfSync, type KeyObject, randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { bearer, PASSWORD, refreshCookieOf, registerAndLogin, startApp, type TestApp } from '../support/app.js';
import { signingKey } from '../../src/auth/tokens/signing-keys.js';

/*
 * The README's runbook ("Rotating the signing key"), played against live sessions: the app restarts
 * with new key files (same SERVER_SECRETS, same database and Redis), twice. Nobody is logged out:
 * every session refreshes at every step, and only access tokens signed by a key that is gone are
 * refused. Sessions must outlive an app, so this needs Redis.
 */
const describeWithRedis = process.env.REDIS_URL ? describe : describe.skip;

const kidOf = (jwt: string): unknown => JSON.parse(Buffer.from(jwt.split('.')[0], 'base64url').toString()).kid;
const privatePem = (key: KeyObject) => key.export({ format: 'pem', type: 'pkcs8' }) as string;
const publicPem = (key: KeyObject) => createPublicKey(key).export({ format: 'pem', type: 'spki' }) as string;

/**
 * The same session's refresh token in the format of before SERVER_SECRETS: no key id, tagged under a
 * key derived from the signing key of the day (as src/auth/tokens/refresh-token.ts legacyKey).
 */
function legacyFormat(token: string, signingKeyOfTheDay: KeyObject): string {
  const [userId, sessionId, generation, secret] = token.split('.');
  const body = `${userId}.${sessionId}.${generation}.${secret}`;
  const material = signingKeyOfTheDay.export({ format: 'der', type: 'pkcs8' });
  const tagKey = Buffer.from(hkdfSync('sha256', material, 'tessera', 'refresh-token-tag-v1', 32));
  return `${body}.${createHmac('sha256', tagKey).update(body).digest().subarray(0, 16).toString('base64url')}`;
}

describeWithRedis('signing-key rotation without logouts', () => {
  let dir: string;
  const file = (name: string, text: string) => {
    const path = join(dir, name);
    writeFileSync(path, text, { mode: 0o600 });
    return path;
  };
  const [old, next, newest] = [0, 1, 2].map(() => generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey);
  const SERVER_SECRETS = randomBytes(32).toString('base64url');
  let kids: { old: string; next: string; newest: string };
  /** Apps still running: closed even when an assertion fails half-way (else Jest never exits). */
  const running = new Set<TestApp>();
  const start = async (env: Record<string, string>) => {
    const app = await startApp(env);
    running.add(app);
    return app;
  };
  const stop = async (app: TestApp) => {
    running.delete(app);
    await app.close();
  };

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'tessera-rotation-'));
    kids = { old: (await signingKey(old)).kid, next: (await signingKey(next)).kid, newest: (await signingKey(newest)).kid };
  });
  afterAll(async () => {
    for (const app of running) await app.close();
    rmSync(dir, { recursive: true, force: true });
  });

  /** One user's live sessions: a browser (refresh cookie), a native app (refresh token in the body), and one holding a legacy token. */
  interface Sessions {
    cookie: string;
    nativeToken: string;
    legacyToken: string;
  }

  /** Refreshes every session; each refresh succeeds, signs with `kid`, and its access token works. Returns the successors and access tokens. */
  async function refreshAll(app: TestApp, sessions: Sessions, kid: string) {
    const browser = await app.http().post('/auth/refresh').set('Cookie', sessions.cookie).expect(200);
    const native = await app.http().post('/auth/refresh').send({ refreshToken: sessions.nativeToken }).expect(200);
    const legacy = await app.http().post('/auth/refresh').send({ refreshToken: sessions.legacyToken }).expect(200);
    const accessTokens = [browser.body.accessToken, native.body.accessToken, legacy.body.accessToken] as string[];
    for (const token of accessTokens) {
      expect(kidOf(token)).toBe(kid);
      await app.http().get('/users/me').set(bearer(token)).expect(200);
    }
    const successors: Sessions = {
      cookie: refreshCookieOf(browser.headers['set-cookie']),
      nativeToken: native.body.refreshToken,
      legacyToken: legacy.body.refreshToken,
    };
    return { successors, accessTokens };
  }

  const jwksKids = async (app: TestApp) =>
    ((await app.http().get('/.well-known/jwks.json').expect(200)).body.keys as { kid: string }[]).map((k) => k.kid);
  const status = async (app: TestApp, token: string) => {
    const response = await app.http().get('/users/me').set(bearer(token));
    return [response.status, response.body.code] as const;
  };

  test('prepend a key, then retire the old one: old access tokens end only when their key goes, every session refreshes throughout', async () => {
    // Step 0: one key.
    const a = await start({ JWT_PRIVATE_KEY_FILE: file('step0.pem', privatePem(old)), SERVER_SECRETS });
    const browser = await registerAndLogin(a);
    const native = await a.http().post('/auth/login').send({ email: browser.email, password: PASSWORD, client: 'native' }).expect(200);
    const forLegacy = await a.http().post('/auth/login').send({ email: browser.email, password: PASSWORD, client: 'native' }).expect(200);
    // As if minted before SERVER_SECRETS existed, under the key signing then.
    let sessions: Sessions = {
      cookie: browser.cookie,
      nativeToken: native.body.refreshToken,
      legacyToken: legacyFormat(forLegacy.body.refreshToken, old),
    };
    const signedByOld = [browser.accessToken, native.body.accessToken as string];
    expect(signedByOld.map(kidOf)).toEqual([kids.old, kids.old]);
    await stop(a);

    // Step 1: the new key first, the old one after it (comments and CRLF are fine in the file).
    const b = await start({
      JWT_PRIVATE_KEY_FILE: file(
        'step1.pem',
        `# new, signing since step 1\n${privatePem(next)}\r\n# old\r\n${privatePem(old).replace(/\n/g, '\r\n')}`,
      ),
      SERVER_SECRETS,
    });
    expect(await jwksKids(b)).toEqual([kids.next, kids.old]);
    for (const token of signedByOld) expect(await status(b, token)).toEqual([200, undefined]);
    const step1 = await refreshAll(b, sessions, kids.next);
    sessions = step1.successors;
    await stop(b);

    // Step 2: a newer key signs; `next` survives only as a public key; `old` is gone.
    const c = await start({
      JWT_PRIVATE_KEY_FILE: file('step2.pem', privatePem(newest)),
      JWT_PREVIOUS_PUBLIC_KEY_FILES: file('step2-previous.pem', publicPem(next)),
      SERVER_SECRETS,
    });
    expect(await jwksKids(c)).toEqual([kids.newest, kids.next]);
    for (const token of step1.accessTokens) expect(await status(c, token)).toEqual([200, undefined]);
    for (const token of signedByOld) expect(await status(c, token)).toEqual([401, 'invalid_token']);
    // Nobody is logged out: the refresh does not depend on the signing key.
    const step2 = await refreshAll(c, sessions, kids.newest);
    await stop(c);
    expect(step2.accessTokens).toHaveLength(3);
  });
});
