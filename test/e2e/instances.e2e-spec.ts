import { afterAll, afterEach, beforeAll, describe, expect, jest, test } from '@jest/globals';
import { generateKeyPairSync, randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Secret, TOTP } from 'otpauth';
import { MfaClock } from '../../src/auth/mfa/mfa-clock.js';
import { bearer, PASSWORD, refreshCookieOf, registerAndLogin, startApp, type TestApp } from '../support/app.js';

// Several instances only make sense on a shared Redis; CI always has one (global-setup insists).
const describeShared = process.env.REDIS_URL ? describe : describe.skip;

describeShared('two instances on one Redis', () => {
  let a: TestApp;
  let b: TestApp;
  let keyDir: string;

  beforeAll(async () => {
    // Instances share the signing key and the server secrets through configuration, as production must.
    keyDir = mkdtempSync(join(tmpdir(), 'tessera-keys-'));
    const keyFile = join(keyDir, 'jwt-private.pem');
    writeFileSync(keyFile, generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey.export({ type: 'pkcs8', format: 'pem' }));
    const shared = { JWT_PRIVATE_KEY_FILE: keyFile, SERVER_SECRETS: randomBytes(32).toString('hex') };
    a = await startApp(shared);
    b = await startApp(shared);
  });
  afterAll(async () => {
    await a.close();
    await b.close();
    rmSync(keyDir, { recursive: true, force: true });
  });

  // /auth/sessions needs only Redis, so these hold with per-instance embedded databases too.
  test('a session created on A is alive on B, and a logout on A is refused on B at once', async () => {
    const user = await registerAndLogin(a);
    await b.http().get('/auth/sessions').set(bearer(user.accessToken)).expect(200);
    await a.http().post('/auth/logout').set(bearer(user.accessToken)).expect(204);
    expect((await b.http().get('/auth/sessions').set(bearer(user.accessToken)).expect(401)).body.code).toBe('session_revoked');
  });

  test('logout-all-devices on B ends the sessions created on A', async () => {
    const user = await registerAndLogin(a);
    const second = await a.http().post('/auth/login').send({ email: user.email, password: PASSWORD }).expect(200);
    await b.http().post('/auth/logout-all-devices').set(bearer(second.body.accessToken)).expect(204);
    await a.http().get('/auth/sessions').set(bearer(user.accessToken)).expect(401);
    await a.http().get('/auth/sessions').set(bearer(second.body.accessToken)).expect(401);
  });

  const describeSharedDatabase = process.env.DATABASE_URL ? describe : describe.skip;
  describeSharedDatabase('with one database too', () => {
    test('parallel refreshes spread over both instances: all 200, one successor', async () => {
      const user = await registerAndLogin(a);
      const responses = await Promise.all(
        Array.from({ length: 20 }, (_, i) => (i % 2 ? a : b).http().post('/auth/refresh').set('Cookie', user.cookie)),
      );
      expect(responses.map((r) => r.status)).toEqual(Array(20).fill(200));
      expect(new Set(responses.map((r) => refreshCookieOf(r.headers['set-cookie']))).size).toBe(1);
    });

    test('a token rotated on A and replayed on B after the window ends the session everywhere', async () => {
      const user = await registerAndLogin(a);
      const first = await a.http().post('/auth/refresh').set('Cookie', user.cookie).expect(200);
      await b.http().post('/auth/refresh').set('Cookie', refreshCookieOf(first.headers['set-cookie'])).expect(200);
      // A grandparent replay is reuse at any time.
      expect((await b.http().post('/auth/refresh').set('Cookie', user.cookie).expect(401)).body.code).toBe('refresh_reused');
      await a.http().get('/users/me').set(bearer(first.body.accessToken)).expect(401);
    });

    describe('second factors', () => {
      const STEP_MS = 30_000;
      const S = Math.floor(Date.now() / STEP_MS);
      const codeAt = (secret: string, step: number) =>
        new TOTP({ secret: Secret.fromBase32(secret) }).generate({ timestamp: step * STEP_MS });
      /** Both instances' clocks in the middle of `step`. */
      const at = (step: number) => {
        for (const app of [a, b]) jest.spyOn(app.app.get(MfaClock), 'now').mockReturnValue(step * STEP_MS + STEP_MS / 2);
      };
      afterEach(() => {
        jest.restoreAllMocks();
      });
      const firstStep = async (app: TestApp, email: string) =>
        (await app.http().post('/auth/login').send({ email, password: PASSWORD }).expect(200)).body.mfaToken as string;

      test('an mfaToken from A works on B once; a code used on one instance is refused on the other, even at the same moment', async () => {
        const user = await registerAndLogin(a);
        const secret = (await a.http().post('/auth/mfa/totp').set(bearer(user.accessToken)).expect(200)).body.secret as string;
        at(S);
        await b
          .http()
          .post('/auth/mfa/totp/confirm')
          .set(bearer(user.accessToken))
          .send({ code: codeAt(secret, S) })
          .expect(200);

        at(S + 1);
        const mfaToken = await firstStep(a, user.email);
        await b
          .http()
          .post('/auth/login/mfa')
          .send({ mfaToken, code: codeAt(secret, S + 1) })
          .expect(200);
        expect(
          (
            await a
              .http()
              .post('/auth/login/mfa')
              .send({ mfaToken, code: codeAt(secret, S + 1) })
              .expect(401)
          ).body.code,
        ).toBe('invalid_mfa_token');
        // The same code again, through the other instance: replayed.
        const replay = await firstStep(b, user.email);
        expect(
          (
            await a
              .http()
              .post('/auth/login/mfa')
              .send({ mfaToken: replay, code: codeAt(secret, S + 1) })
              .expect(401)
          ).body.code,
        ).toBe('invalid_code');

        // One new code sent to both instances at once: exactly one login.
        at(S + 2);
        const [onA, onB] = [await firstStep(a, user.email), await firstStep(b, user.email)];
        const raced = await Promise.all([
          a
            .http()
            .post('/auth/login/mfa')
            .send({ mfaToken: onA, code: codeAt(secret, S + 2) }),
          b
            .http()
            .post('/auth/login/mfa')
            .send({ mfaToken: onB, code: codeAt(secret, S + 2) }),
        ]);
        expect(raced.map((r) => r.status).sort()).toEqual([200, 401]);
      });
    });
  });
});
