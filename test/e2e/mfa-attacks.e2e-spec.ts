import { afterAll, afterEach, beforeAll, describe, expect, jest, test } from '@jest/globals';
import { Secret, TOTP } from 'otpauth';
import { MfaClock } from '../../src/auth/mfa/mfa-clock.js';
import { MFA_ACCOUNT_WINDOW_MS } from '../../src/auth/second-factor-check.js';
import type { RedisService } from '../../src/redis/redis.service.js';
import { RATE_LIMIT_STORE, type RateLimitStore } from '../../src/throttling/rate-limit-store.js';
import { bearer, PASSWORD, startApp, type TestApp, uniqueEmail } from '../support/app.js';
import { SoftwareAuthenticator } from '../support/software-authenticator.js';

/*
 * Review of the second factors (h-review-mfa): every test here reproduces a hole over HTTP and is
 * red on the code it was written against (eb4f0be). Codes are computed with otpauth for the step
 * the server's MfaClock is made to stand in, as in mfa.e2e-spec.ts.
 */
const STEP_MS = 30_000;
const S = Math.floor(Date.now() / STEP_MS);
const ORIGIN = 'http://localhost:3000';
const AAL2 = 'urn:tessera:aal2';
const codeAt = (secret: string, step: number) => new TOTP({ secret: Secret.fromBase32(secret) }).generate({ timestamp: step * STEP_MS });
const claimsOf = (jwt: string) => JSON.parse(Buffer.from(jwt.split('.')[1], 'base64url').toString()) as Record<string, unknown>;

function wrongCode(secret: string, steps: number[]): string {
  const taken = new Set(steps.map((s) => codeAt(secret, s)));
  for (let n = 0; ; n++) {
    const candidate = String(n * 111_111 + 7)
      .padStart(6, '0')
      .slice(-6);
    if (!taken.has(candidate)) return candidate;
  }
}

const deviceCookieOf = (setCookie: string | string[] | undefined): string => {
  const list = Array.isArray(setCookie) ? setCookie : setCookie ? [setCookie] : [];
  return (list.find((c) => /^(__Secure-)?device=/.test(c)) ?? '').split(';')[0];
};

interface MfaUser {
  email: string;
  userId: string;
  secret: string;
  recoveryCodes: string[];
  step: number;
  /** A password-only (aal1) session made before TOTP was enabled: "the stolen session". */
  aal1Token: string;
}

function harness(env: Record<string, string>) {
  const ctx = {} as { t: TestApp; clock: MfaClock };
  beforeAll(async () => {
    ctx.t = await startApp({ PUBLIC_ORIGIN: ORIGIN, ...env });
    ctx.clock = ctx.t.app.get(MfaClock);
  });
  afterAll(async () => {
    await ctx.t?.close();
  });
  afterEach(() => {
    jest.restoreAllMocks();
  });
  const at = (step: number) => jest.spyOn(ctx.clock, 'now').mockReturnValue(step * STEP_MS + STEP_MS / 2);
  const next = (user: MfaUser) => {
    user.step += 1;
    at(user.step);
    return codeAt(user.secret, user.step);
  };
  const login = (email: string, extra: Record<string, unknown> = {}) =>
    ctx.t
      .http()
      .post('/auth/login')
      .send({ email, password: PASSWORD, ...extra });
  const loginMfa = (body: Record<string, unknown>, cookie?: string) => {
    const req = ctx.t.http().post('/auth/login/mfa');
    if (cookie) req.set('Cookie', cookie);
    return req.send(body);
  };
  const reauthenticate = (token: string, body: Record<string, unknown>) =>
    ctx.t.http().post('/auth/reauthenticate').set(bearer(token)).send(body);

  async function enabledUser(): Promise<MfaUser> {
    const email = uniqueEmail('review');
    const registered = await ctx.t.http().post('/auth/register').send({ email, password: PASSWORD }).expect(201);
    const token = (await login(email).expect(200)).body.accessToken as string;
    const secret = (await ctx.t.http().post('/auth/mfa/totp').set(bearer(token)).expect(200)).body.secret as string;
    at(S);
    const confirmed = await ctx.t
      .http()
      .post('/auth/mfa/totp/confirm')
      .set(bearer(token))
      .send({ code: codeAt(secret, S) })
      .expect(200);
    jest.restoreAllMocks();
    return { email, userId: registered.body.id as string, secret, recoveryCodes: confirmed.body.recoveryCodes, step: S, aal1Token: token };
  }

  async function firstStep(email: string, extra: Record<string, unknown> = {}, cookie?: string): Promise<string> {
    const req = ctx.t.http().post('/auth/login');
    if (cookie) req.set('Cookie', cookie);
    const response = await req.send({ email, password: PASSWORD, ...extra }).expect(200);
    expect(response.body.mfaRequired).toBe(true);
    return response.body.mfaToken as string;
  }

  const passkeyLogin = async (authenticator: SoftwareAuthenticator) => {
    const options = (await ctx.t.http().post('/auth/passkeys/login/options').expect(200)).body as Record<string, unknown>;
    return ctx.t
      .http()
      .post('/auth/passkeys/login')
      .send({ response: authenticator.assert(options) });
  };
  const registerPasskey = async (token: string, authenticator: SoftwareAuthenticator) => {
    const options = await ctx.t.http().post('/auth/passkeys/registration/options').set(bearer(token));
    if (options.status !== 200) return options.status;
    const created = await ctx.t
      .http()
      .post('/auth/passkeys')
      .set(bearer(token))
      .send({ response: authenticator.register(options.body as Record<string, unknown>) });
    return created.status;
  };

  return { ctx, at, next, login, loginMfa, reauthenticate, enabledUser, firstStep, passkeyLogin, registerPasskey };
}

describe('review: a factor added at aal1 is a way to aal2 (F1)', () => {
  const adminEmail = uniqueEmail('admin');
  const h = harness({ BOOTSTRAP_ADMIN_EMAIL: adminEmail, BOOTSTRAP_ADMIN_PASSWORD: PASSWORD, MFA_REQUIRED_ROLES: 'admin' });

  test('F1a: the password alone of an admin whose factor is a passkey reaches /admin at aal2 by enrolling TOTP', async () => {
    const { t } = h.ctx;
    // The victim: an admin who satisfied MFA_REQUIRED_ROLES with a passkey (the contract allows it).
    const own = (await h.login(adminEmail).expect(200)).body.accessToken as string;
    expect(await h.registerPasskey(own, new SoftwareAuthenticator(ORIGIN))).toBe(201);
    const someone = await t
      .http()
      .post('/auth/register')
      .send({ email: uniqueEmail('someone'), password: PASSWORD })
      .expect(201);

    // The attacker knows the password, nothing else. A password login is one step (a passkey adds none): aal1.
    const stolen = (await h.login(adminEmail).expect(200)).body.accessToken as string;
    expect(claimsOf(stolen).acr).toBe('urn:tessera:aal1');
    expect((await t.http().get(`/admin/users/${someone.body.id}`).set(bearer(stolen)).expect(401)).body.code).toBe(
      'reauthentication_required',
    );

    // …enrols an authenticator app of their own with that aal1 proof, confirms it, and steps up with password + code.
    let reached = false;
    const enrol = await t.http().post('/auth/mfa/totp').set(bearer(stolen));
    if (enrol.status === 200) {
      const secret = enrol.body.secret as string;
      h.at(S);
      const confirm = await t
        .http()
        .post('/auth/mfa/totp/confirm')
        .set(bearer(stolen))
        .send({ code: codeAt(secret, S) });
      if (confirm.status === 200) {
        h.at(S + 1);
        const aal2 = await h.reauthenticate(stolen, { password: PASSWORD, code: codeAt(secret, S + 1) });
        if (aal2.status === 200) {
          const admin = await t
            .http()
            .get(`/admin/users/${someone.body.id}`)
            .set(bearer(aal2.body.accessToken as string));
          reached = admin.status === 200;
        }
      }
    }
    expect(reached).toBe(false);
  });

  test('F1b: a stolen aal1 session and the password of a TOTP user register a passkey, log in at aal2, take new recovery codes', async () => {
    const { t } = h.ctx;
    const user = await h.enabledUser();
    // As in mfa.e2e-spec "a stolen aal1 session with the password cannot remove TOTP or see new codes".
    const byPassword = (await h.reauthenticate(user.aal1Token, { password: PASSWORD }).expect(200)).body.accessToken as string;
    await t.http().post('/auth/mfa/recovery-codes').set(bearer(byPassword)).expect(401);

    const authenticator = new SoftwareAuthenticator(ORIGIN); // user-verifying: a login with it is aal2
    let regenerated = 0;
    if ((await h.registerPasskey(byPassword, authenticator)) === 201) {
      const login = await h.passkeyLogin(authenticator);
      if (login.status === 200) {
        const token = login.body.accessToken as string;
        expect(claimsOf(token).acr).toBe(AAL2);
        regenerated = (await t.http().post('/auth/mfa/recovery-codes').set(bearer(token))).status;
      }
    }
    // On eb4f0be: 200, the attacker holds 10 fresh recovery codes and the user's own set is dead.
    expect(regenerated).not.toBe(200);
  });
});

describe('review: guessing codes and races on the mfaToken (F2, F3, F4, F6)', () => {
  const h = harness({});

  test('F2: the mfaToken does not die after 5 wrong codes when they arrive together', async () => {
    const user = await h.enabledUser();
    const mfaToken = await h.firstStep(user.email);
    const now = user.step + 5;
    h.at(now);
    const wrong = wrongCode(user.secret, [now - 1, now, now + 1]);
    const answers = await Promise.all(Array.from({ length: 10 }, () => h.loginMfa({ mfaToken, code: wrong })));
    const checked = answers.filter((a) => a.body.code === 'invalid_code').length;
    // At most 5 wrong codes are checked against one mfaToken; the others find it dead.
    expect(checked).toBeLessThanOrEqual(5);
  });

  test('F6: codes racing on one mfaToken use up recovery codes for logins that then fail', async () => {
    const { t } = h.ctx;
    const user = await h.enabledUser();
    const mfaToken = await h.firstStep(user.email);
    const code = h.next(user);
    const answers = await Promise.all([
      h.loginMfa({ mfaToken, code }),
      h.loginMfa({ mfaToken, recoveryCode: user.recoveryCodes[0] }),
      h.loginMfa({ mfaToken, recoveryCode: user.recoveryCodes[1] }),
    ]);
    expect(answers.filter((a) => a.status === 200)).toHaveLength(1);
    const recoveryWins = answers.slice(1).filter((a) => a.status === 200).length;
    const status = await t.http().get('/auth/mfa').set(bearer(user.aal1Token)).expect(200);
    // Only a recovery code that logged someone in is spent. On eb4f0be: 8 left after one login by TOTP code.
    expect(status.body.recoveryCodesLeft).toBe(10 - recoveryWins);
  });

  test('F3: with the password, code guesses never run out: 10 every 15 minutes, for ever (no cap on consecutive failures)', async () => {
    const { t } = h.ctx;
    const user = await h.enabledUser();
    const store = t.app.get<RateLimitStore>(RATE_LIMIT_STORE);
    const key = `mfa-account:${user.userId}`;
    /** Lets MFA_ACCOUNT_WINDOW_MS (15 minutes) pass for this account's counter. */
    const windowEnds = async () => {
      if (store.constructor.name === 'RedisRateLimitStore') {
        const redis = (store as unknown as { redis: RedisService }).redis;
        await redis.run((client) => client.del(`rl:{${key}}`));
      } else {
        (store as unknown as { windows: Map<string, unknown> }).windows.delete(key);
      }
    };
    expect(MFA_ACCOUNT_WINDOW_MS).toBe(15 * 60_000);
    const now = user.step + 5;
    h.at(now);
    const wrong = wrongCode(user.secret, [now - 1, now, now + 1]);
    let guesses = 0;
    // 12 windows (3 hours) of guessing; NIST SP 800-63B 5.2.2 caps consecutive failures at 100.
    for (let window = 0; window < 12; window++) {
      for (let token = 0; token < 2; token++) {
        const mfaToken = await h.firstStep(user.email);
        for (let i = 0; i < 5; i++) {
          const answer = await h.loginMfa({ mfaToken, code: wrong });
          if (answer.body.code === 'invalid_code') guesses++;
        }
      }
      await windowEnds();
    }
    // On eb4f0be: 120 wrong codes checked, and the 121st would be too (≈ 960 a day, 3 in 10^6 each).
    expect(guesses).toBeLessThanOrEqual(100);
  });

  test("F4: someone with the password locks the owner out of the second step, even on the owner's known device", async () => {
    const user = await h.enabledUser();
    // The owner logs in on their browser: it holds the device cookie from then on.
    const first = await h.ctx.t.http().post('/auth/login').send({ email: user.email, password: PASSWORD }).expect(200);
    const owned = await h.loginMfa({ mfaToken: first.body.mfaToken, code: h.next(user) }).expect(200);
    const device = deviceCookieOf(owned.headers['set-cookie']);
    expect(device).not.toBe('');

    // The attacker (password, no device cookie) spends the account's allowance of wrong codes.
    const now = user.step + 2;
    h.at(now);
    const wrong = wrongCode(user.secret, [now - 1, now, now + 1]);
    for (let token = 0; token < 2; token++) {
      const mfaToken = await h.firstStep(user.email);
      for (let i = 0; i < 5; i++) await h.loginMfa({ mfaToken, code: wrong }).expect(401);
    }
    // The owner, on the known device, with the right code, and then with a recovery code: locked out for 15 minutes,
    // and again every time the attacker repeats it.
    const mfaToken = await h.firstStep(user.email, {}, device);
    const withCode = await h.loginMfa({ mfaToken, code: codeAt(user.secret, now) }, device);
    const withRecovery = await h.loginMfa(
      { mfaToken: await h.firstStep(user.email, {}, device), recoveryCode: user.recoveryCodes[0] },
      device,
    );
    expect([withCode.status, withRecovery.status]).not.toEqual([429, 429]);
    expect(withCode.status === 200 || withRecovery.status === 200).toBe(true);
  });
});

describe('review: DELETE /admin/users/:id/mfa is "role admin (aal2)" in the contract (F5)', () => {
  const adminEmail = uniqueEmail('admin');
  // The default: MFA_REQUIRED_ROLES empty.
  const h = harness({ BOOTSTRAP_ADMIN_EMAIL: adminEmail, BOOTSTRAP_ADMIN_PASSWORD: PASSWORD });

  test("F5: an admin session proved by a password alone removes a user's second factors", async () => {
    const { t } = h.ctx;
    const admin = (await h.login(adminEmail).expect(200)).body.accessToken as string;
    expect(claimsOf(admin).acr).toBe('urn:tessera:aal1');
    const user = await h.enabledUser();
    const removed = await t.http().delete(`/admin/users/${user.userId}/mfa`).set(bearer(admin));
    // On eb4f0be: 204, and the victim's password alone logs in from now on.
    expect(removed.status).toBe(401);
    expect(removed.body.code).toBe('reauthentication_required');
    expect(removed.headers['www-authenticate']).toContain(`acr_values="${AAL2}"`);
  });
});
