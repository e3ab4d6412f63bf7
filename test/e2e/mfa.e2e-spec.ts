import { afterAll, afterEach, beforeAll, describe, expect, jest, test } from '@jest/globals';
import { Secret, TOTP } from 'otpauth';
import { SecurityEventsRepository } from '../../src/audit/security-events.repository.js';
import type { SecurityEventType } from '../../src/audit/security-event.js';
import { MfaClock } from '../../src/auth/mfa/mfa-clock.js';
import { MfaTickets } from '../../src/auth/mfa-tickets.js';
import { UsersService } from '../../src/users/users.service.js';
import { bearer, PASSWORD, refreshCookieOf, startApp, type TestApp, uniqueEmail } from '../support/app.js';
import { stepUpToAal2 } from '../support/mfa.js';

/*
 * Second factors over HTTP: the /auth/mfa routes, the two-step login (POST /auth/login answers
 * mfaRequired, POST /auth/login/mfa finishes it), reauthentication with a code, and the admin's
 * removal. Codes are computed with otpauth from the secret the enrolment returned, as an
 * authenticator app would, for the step the server's clock (MfaClock) is made to stand in: no test
 * races a 30-s boundary. Every user's codes move forward one step at a time (`next`), since each
 * step is accepted once.
 */
const STEP_MS = 30_000;
const S = Math.floor(Date.now() / STEP_MS);
const codeAt = (secret: string, step: number) => new TOTP({ secret: Secret.fromBase32(secret) }).generate({ timestamp: step * STEP_MS });

const claimsOf = (jwt: string) => JSON.parse(Buffer.from(jwt.split('.')[1], 'base64url').toString()) as Record<string, unknown>;
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
const AAL2 = 'urn:tessera:aal2';
const AAL1 = 'urn:tessera:aal1';

/** A six-digit code different from every code of `steps` (so it is wrong whatever the window). */
function wrongCode(secret: string, steps: number[]): string {
  const taken = new Set(steps.map((s) => codeAt(secret, s)));
  for (let n = 0; ; n++) {
    const candidate = String(n * 111_111 + 7)
      .padStart(6, '0')
      .slice(-6);
    if (!taken.has(candidate)) return candidate;
  }
}

interface MfaUser {
  email: string;
  userId: string;
  secret: string;
  recoveryCodes: string[];
  /** The last step whose code was used (the server accepts only newer ones). */
  step: number;
  /** An access token of a password-only (aal1) session made before TOTP was enabled. */
  aal1Token: string;
}

describe('second factors over HTTP', () => {
  let t: TestApp;
  let clock: MfaClock;
  let events: SecurityEventsRepository;
  let adminToken: string;
  let adminId: string;
  const adminEmail = uniqueEmail('admin');

  beforeAll(async () => {
    t = await startApp({ BOOTSTRAP_ADMIN_EMAIL: adminEmail, BOOTSTRAP_ADMIN_PASSWORD: PASSWORD });
    clock = t.app.get(MfaClock);
    events = t.app.get(SecurityEventsRepository);
    const admin = await t.http().post('/auth/login').send({ email: adminEmail, password: PASSWORD }).expect(200);
    // Removing someone's second factors wants an admin session proved recently with two factors:
    // the admin sets up the app and steps up with password and code (steps well before the users').
    adminToken = await stepUpToAal2(t, clock, admin.body.accessToken as string, S - 10);
    adminId = claimsOf(adminToken).sub as string;
  });
  afterAll(async () => {
    await t?.close();
  });
  afterEach(() => {
    jest.restoreAllMocks();
  });

  /** Stands the server's clock in the middle of `step`. */
  const at = (step: number) => jest.spyOn(clock, 'now').mockReturnValue(step * STEP_MS + STEP_MS / 2);
  /** The user's next code, with the clock at its step. */
  const next = (user: MfaUser) => {
    user.step += 1;
    at(user.step);
    return codeAt(user.secret, user.step);
  };
  const eventsOf = (userId: string, type: SecurityEventType) => events.list({ userId, type }, 50);

  const login = (email: string, extra: Record<string, unknown> = {}) =>
    t
      .http()
      .post('/auth/login')
      .send({ email, password: PASSWORD, ...extra });
  const loginMfa = (body: Record<string, unknown>) => t.http().post('/auth/login/mfa').send(body);
  const reauthenticate = (token: string, body: Record<string, unknown>) =>
    t.http().post('/auth/reauthenticate').set(bearer(token)).send(body);

  /** Registers, logs in with the password (aal1), enrols and confirms TOTP over HTTP. */
  async function enabledUser(): Promise<MfaUser> {
    const email = uniqueEmail('mfa');
    const registered = await t.http().post('/auth/register').send({ email, password: PASSWORD }).expect(201);
    const token = (await login(email).expect(200)).body.accessToken as string;
    const enrolment = await t.http().post('/auth/mfa/totp').set(bearer(token)).expect(200);
    const secret = enrolment.body.secret as string;
    at(S);
    const confirmed = await t
      .http()
      .post('/auth/mfa/totp/confirm')
      .set(bearer(token))
      .send({ code: codeAt(secret, S) })
      .expect(200);
    jest.restoreAllMocks();
    return {
      email,
      userId: registered.body.id as string,
      secret,
      recoveryCodes: confirmed.body.recoveryCodes as string[],
      step: S,
      aal1Token: token,
    };
  }

  /** The first step: asserts the challenge's shape, returns its mfaToken. */
  async function firstStep(user: { email: string }, extra: Record<string, unknown> = {}): Promise<string> {
    const response = await login(user.email, extra).expect(200);
    expect(response.body).toEqual({
      mfaRequired: true,
      mfaToken: expect.stringMatching(/^[A-Za-z0-9_-]{43}$/),
      methods: expect.any(Array),
    });
    return response.body.mfaToken as string;
  }

  describe('enrolment', () => {
    test('enrol, confirm with a code, status; the confirmation is recorded; a confirmed factor is not replaced', async () => {
      const email = uniqueEmail('enrol');
      const registered = await t.http().post('/auth/register').send({ email, password: PASSWORD }).expect(201);
      const userId = registered.body.id as string;
      const token = (await login(email).expect(200)).body.accessToken as string;
      expect((await t.http().get('/auth/mfa').set(bearer(token)).expect(200)).body).toEqual({ totp: false, recoveryCodesLeft: 0 });

      // Confirming with nothing pending.
      expect((await t.http().post('/auth/mfa/totp/confirm').set(bearer(token)).send({ code: '123456' }).expect(409)).body.code).toBe(
        'mfa_not_enrolling',
      );
      const enrolment = await t.http().post('/auth/mfa/totp').set(bearer(token)).expect(200);
      expect(enrolment.headers['cache-control']).toBe('no-store');
      expect(enrolment.body).toEqual({
        secret: expect.stringMatching(/^[A-Z2-7]{32}$/),
        otpauthUri: expect.stringMatching(/^otpauth:\/\/totp\//),
      });
      expect(new URL(enrolment.body.otpauthUri as string).searchParams.get('secret')).toBe(enrolment.body.secret);
      // Pending: logins still need the password only.
      expect((await login(email).expect(200)).body.accessToken).toEqual(expect.any(String));

      const secret = enrolment.body.secret as string;
      at(S);
      for (const bad of [wrongCode(secret, [S - 1, S, S + 1]), 'abcdef', '']) {
        const refused = await t.http().post('/auth/mfa/totp/confirm').set(bearer(token)).send({ code: bad }).expect(400);
        expect(refused.body.code).toBe('mfa_code_invalid');
      }
      await t.http().post('/auth/mfa/totp/confirm').set(bearer(token)).send({}).expect(400);
      await t.http().post('/auth/mfa/totp/confirm').set(bearer(token)).send({ code: 123456 }).expect(400);
      const confirmed = await t
        .http()
        .post('/auth/mfa/totp/confirm')
        .set(bearer(token))
        .send({ code: codeAt(secret, S) })
        .expect(200);
      expect(confirmed.body.recoveryCodes).toHaveLength(10);
      expect(new Set(confirmed.body.recoveryCodes).size).toBe(10);
      expect((await t.http().get('/auth/mfa').set(bearer(token)).expect(200)).body).toEqual({ totp: true, recoveryCodesLeft: 10 });
      expect(await eventsOf(userId, 'mfa.enabled')).toEqual([expect.objectContaining({ outcome: 'success', details: { method: 'totp' } })]);

      expect((await t.http().post('/auth/mfa/totp').set(bearer(token)).expect(409)).body.code).toBe('mfa_already_enabled');
      expect(
        (
          await t
            .http()
            .post('/auth/mfa/totp/confirm')
            .set(bearer(token))
            .send({ code: codeAt(secret, S + 1) })
            .expect(409)
        ).body.code,
      ).toBe('mfa_already_enabled');
    });

    test('the routes need a token; enrolling needs a recent authentication', async () => {
      await t.http().get('/auth/mfa').expect(401);
      await t.http().post('/auth/mfa/totp').expect(401);
      await t.http().post('/auth/mfa/totp/confirm').send({ code: '123456' }).expect(401);
      await t.http().delete('/auth/mfa/totp').expect(401);
      await t.http().post('/auth/mfa/recovery-codes').expect(401);
    });
  });

  describe('login with a second factor', () => {
    test('browser: the password answers mfaRequired with no token and no cookie; the code answers the login with cookies, aal2', async () => {
      const user = await enabledUser();
      const first = await login(user.email).expect(200);
      expect(first.body).toEqual({ mfaRequired: true, mfaToken: expect.any(String), methods: ['totp', 'recovery_code'] });
      expect(first.headers['set-cookie']).toBeUndefined();
      expect(first.headers['cache-control']).toBe('no-store');
      expect(await eventsOf(user.userId, 'login.succeeded')).toHaveLength(1); // only the enrolling login

      const second = await loginMfa({ mfaToken: first.body.mfaToken, code: next(user) }).expect(200);
      expect(second.body).toEqual({
        accessToken: expect.any(String),
        tokenType: 'Bearer',
        expiresIn: expect.any(Number),
        sessionId: expect.any(String),
      });
      expect(refreshCookieOf(second.headers['set-cookie'])).not.toBe('');
      expect([second.headers['set-cookie']].flat().some((c) => /^(__Secure-)?device=/.test(c))).toBe(true);
      const claims = claimsOf(second.body.accessToken as string);
      expect(claims).toMatchObject({ sub: user.userId, amr: ['pwd', 'otp', 'mfa'], acr: AAL2 });
      expect(Math.abs((claims.auth_time as number) - Date.now() / 1000)).toBeLessThan(30);
      await t
        .http()
        .get('/users/me')
        .set(bearer(second.body.accessToken as string))
        .expect(200);
      const [session] = (
        await t
          .http()
          .get('/auth/sessions')
          .set(bearer(second.body.accessToken as string))
          .expect(200)
      ).body.filter((s: { id: string }) => s.id === second.body.sessionId);
      expect(session).toMatchObject({ amr: ['pwd', 'otp', 'mfa'], acr: AAL2 });
      const [succeeded] = await eventsOf(user.userId, 'login.succeeded');
      expect(succeeded.details).toMatchObject({ method: 'totp', amr: ['pwd', 'otp', 'mfa'], acr: AAL2 });

      // Single-use.
      const again = await loginMfa({ mfaToken: first.body.mfaToken, code: next(user) }).expect(401);
      expect(again.body.code).toBe('invalid_mfa_token');
    });

    test('native: the tokens come in the body as the first step asked, no cookies', async () => {
      const user = await enabledUser();
      const mfaToken = await firstStep(user, { client: 'native' });
      const second = await loginMfa({ mfaToken, code: next(user) }).expect(200);
      expect(second.body).toMatchObject({ refreshToken: expect.any(String), deviceToken: expect.any(String) });
      expect(second.headers['set-cookie']).toBeUndefined();
      await t.http().post('/auth/refresh').send({ refreshToken: second.body.refreshToken }).expect(200);
    });

    test('wrong, replayed and stale codes are 401 invalid_code and recorded as mfa.failed', async () => {
      const user = await enabledUser();
      const mfaToken = await firstStep(user);
      const now = user.step + 10;
      at(now);
      const response = await loginMfa({ mfaToken, code: wrongCode(user.secret, [now - 1, now, now + 1]) }).expect(401);
      expect(response.headers['content-type']).toMatch(/^application\/problem\+json/);
      expect(response.body.code).toBe('invalid_code');
      // Two steps behind or ahead: refused (unless equal to a code in the window).
      const inWindow = new Set([now - 1, now, now + 1].map((s) => codeAt(user.secret, s)));
      for (const stale of [now - 2, now + 2]) {
        const code = codeAt(user.secret, stale);
        if (!inWindow.has(code)) expect((await loginMfa({ mfaToken, code }).expect(401)).body.code).toBe('invalid_code');
      }
      // The right code works, on the same mfaToken (fewer than 5 failures).
      const good = codeAt(user.secret, now);
      await loginMfa({ mfaToken, code: good }).expect(200);
      // Replayed in a new login: refused, and so is the step before it.
      const replay = await firstStep(user);
      expect((await loginMfa({ mfaToken: replay, code: good }).expect(401)).body.code).toBe('invalid_code');
      expect((await loginMfa({ mfaToken: replay, code: codeAt(user.secret, now - 1) }).expect(401)).body.code).toBe('invalid_code');
      const failed = await eventsOf(user.userId, 'mfa.failed');
      expect(failed.length).toBeGreaterThanOrEqual(3);
      expect(failed[0]).toMatchObject({ outcome: 'failure', details: { method: 'totp', stage: 'login', reason: 'wrong_code' } });
      expect(await eventsOf(user.userId, 'login.failed')).toEqual(
        expect.arrayContaining([expect.objectContaining({ details: { reason: 'wrong_code' } })]),
      );
      user.step = now;
    });

    test('the mfaToken dies after 5 wrong codes: the right code is refused after', async () => {
      const user = await enabledUser();
      const mfaToken = await firstStep(user);
      const code = next(user);
      const wrong = wrongCode(user.secret, [user.step - 1, user.step, user.step + 1]);
      for (let i = 0; i < 5; i++) expect((await loginMfa({ mfaToken, code: wrong }).expect(401)).body.code).toBe('invalid_code');
      expect((await loginMfa({ mfaToken, code }).expect(401)).body.code).toBe('invalid_mfa_token');
      // The code was not used up by the refusal: a new login takes it.
      await loginMfa({ mfaToken: await firstStep(user), code }).expect(200);
    });

    test('an expired mfaToken is refused', async () => {
      const tickets = t.app.get(MfaTickets);
      const user = await enabledUser();
      tickets.ttlSeconds = 1;
      let mfaToken: string;
      try {
        mfaToken = await firstStep(user);
      } finally {
        tickets.ttlSeconds = 300;
      }
      await sleep(2_500);
      expect((await loginMfa({ mfaToken, code: next(user) }).expect(401)).body.code).toBe('invalid_mfa_token');
    });

    test('unknown, malformed and missing mfaTokens; exactly one of code and recoveryCode', async () => {
      const user = await enabledUser();
      const code = next(user);
      for (const mfaToken of ['A'.repeat(43), 'short', '']) {
        expect((await loginMfa({ mfaToken, code }).expect(401)).body.code).toBe('invalid_mfa_token');
      }
      const mfaToken = await firstStep(user);
      await loginMfa({ code }).expect(400);
      await loginMfa({ mfaToken: 42, code }).expect(400);
      expect((await loginMfa({ mfaToken }).expect(400)).body.code).toBe('validation_failed');
      expect((await loginMfa({ mfaToken, code, recoveryCode: user.recoveryCodes[0] }).expect(400)).body.code).toBe('validation_failed');
      await loginMfa({ mfaToken, code: 123456 }).expect(400);
      await loginMfa({ mfaToken, code: null }).expect(400);
      await loginMfa({ mfaToken, code }).expect(200);
    });

    test("another user's mfaToken with one's own code is a wrong code for that user", async () => {
      const alice = await enabledUser();
      const bob = await enabledUser();
      const alicesToken = await firstStep(alice);
      const bobsCode = next(bob);
      if (bobsCode !== codeAt(alice.secret, bob.step)) {
        expect((await loginMfa({ mfaToken: alicesToken, code: bobsCode }).expect(401)).body.code).toBe('invalid_code');
      }
      // Bob's recovery code does not open Alice's login either.
      expect((await loginMfa({ mfaToken: alicesToken, recoveryCode: bob.recoveryCodes[0] }).expect(401)).body.code).toBe('invalid_code');
      // Bob's code still works for Bob (it was checked against Alice's secret only).
      await loginMfa({ mfaToken: await firstStep(bob), code: bobsCode }).expect(200);
    });

    test('a recovery code logs in once, is recorded with the codes left; methods drop recovery_code when none are left', async () => {
      const user = await enabledUser();
      const [first, second] = user.recoveryCodes;
      const response = await loginMfa({ mfaToken: await firstStep(user), recoveryCode: first.toLowerCase().replace(/-/g, ' ') }).expect(
        200,
      );
      expect(claimsOf(response.body.accessToken as string)).toMatchObject({ amr: ['pwd', 'otp', 'mfa'], acr: AAL2 });
      expect(await eventsOf(user.userId, 'recovery_code.used')).toEqual([
        expect.objectContaining({ details: { stage: 'login', remaining: 9 } }),
      ]);
      expect((await loginMfa({ mfaToken: await firstStep(user), recoveryCode: first }).expect(401)).body.code).toBe('invalid_code');
      expect((await loginMfa({ mfaToken: await firstStep(user), recoveryCode: 'not a code' }).expect(401)).body.code).toBe('invalid_code');
      await loginMfa({ mfaToken: await firstStep(user), recoveryCode: second }).expect(200);

      for (const code of user.recoveryCodes.slice(2)) await loginMfa({ mfaToken: await firstStep(user), recoveryCode: code }).expect(200);
      expect((await login(user.email).expect(200)).body.methods).toEqual(['totp']);
    });

    test('an account disabled between the steps cannot finish the login', async () => {
      const user = await enabledUser();
      const mfaToken = await firstStep(user);
      await t.app.get(UsersService).update(user.userId, { disabled: true });
      expect((await loginMfa({ mfaToken, code: next(user) }).expect(401)).body.code).toBe('invalid_credentials');
      await t.app.get(UsersService).update(user.userId, { disabled: false });
      // The ticket is gone too.
      expect((await loginMfa({ mfaToken, code: next(user) }).expect(401)).body.code).toBe('invalid_mfa_token');
    });

    test('a password changed between the steps ends the login (sessions revoked meanwhile)', async () => {
      const user = await enabledUser();
      const session = await loginMfa({ mfaToken: await firstStep(user), code: next(user) }).expect(200);
      const mfaToken = await firstStep(user);
      await t
        .http()
        .post('/auth/password')
        .set(bearer(session.body.accessToken as string))
        .send({ currentPassword: PASSWORD, newPassword: 'another long enough passphrase' })
        .expect(204);
      // The first step proved the old password: the session it would start is refused.
      expect((await loginMfa({ mfaToken, code: next(user) }).expect(401)).body.code).toBe('invalid_credentials');
    });

    test('wrong codes are limited per account across mfaTokens: 429 with Retry-After, even for the right code', async () => {
      const user = await enabledUser();
      const code = next(user);
      const wrong = wrongCode(user.secret, [user.step - 1, user.step, user.step + 1]);
      for (let token = 0; token < 2; token++) {
        const mfaToken = await firstStep(user);
        for (let i = 0; i < 5; i++) await loginMfa({ mfaToken, code: wrong }).expect(401);
      }
      const limited = await loginMfa({ mfaToken: await firstStep(user), code }).expect(429);
      expect(limited.body.code).toBe('rate_limited');
      expect(Number(limited.headers['retry-after'])).toBeGreaterThan(0);
      // The same allowance guards a reauthentication with a code.
      expect((await reauthenticate(user.aal1Token, { code }).expect(429)).body.code).toBe('rate_limited');
    });
  });

  describe('reauthentication with a code', () => {
    test('{code} alone is aal1 ["otp"]; {password, code} and {password, recoveryCode} are aal2', async () => {
      const user = await enabledUser();
      const byCode = await reauthenticate(user.aal1Token, { code: next(user) }).expect(200);
      expect(claimsOf(byCode.body.accessToken as string)).toMatchObject({ amr: ['otp'], acr: AAL1 });
      const both = await reauthenticate(user.aal1Token, { password: PASSWORD, code: next(user) }).expect(200);
      expect(claimsOf(both.body.accessToken as string)).toMatchObject({ amr: ['pwd', 'otp', 'mfa'], acr: AAL2 });
      const recovery = await reauthenticate(user.aal1Token, { password: PASSWORD, recoveryCode: user.recoveryCodes[0] }).expect(200);
      expect(claimsOf(recovery.body.accessToken as string)).toMatchObject({ amr: ['pwd', 'otp', 'mfa'], acr: AAL2 });
      const password = await reauthenticate(user.aal1Token, { password: PASSWORD }).expect(200);
      expect(claimsOf(password.body.accessToken as string)).toMatchObject({ amr: ['pwd'], acr: AAL1 });
      const recorded = await eventsOf(user.userId, 'reauthenticated');
      expect(recorded.map((e) => e.details.acr)).toEqual([AAL1, AAL2, AAL2, AAL1]);
    });

    test('bad forms are 400; a code without TOTP is 409; wrong codes are 401 invalid_code and recorded', async () => {
      const user = await enabledUser();
      for (const body of [
        {},
        { code: '123456', recoveryCode: user.recoveryCodes[0] },
        { recoveryCode: user.recoveryCodes[0] },
        { code: 123456 },
      ]) {
        expect((await reauthenticate(user.aal1Token, body).expect(400)).body.code).toBe('validation_failed');
      }
      const plain = await t
        .http()
        .post('/auth/register')
        .send({ email: uniqueEmail('plain'), password: PASSWORD })
        .expect(201);
      const plainToken = (await login(plain.body.email as string).expect(200)).body.accessToken as string;
      expect((await reauthenticate(plainToken, { code: '123456' }).expect(409)).body.code).toBe('mfa_not_enabled');

      const now = user.step + 1;
      at(now);
      const wrong = wrongCode(user.secret, [now - 1, now, now + 1]);
      expect((await reauthenticate(user.aal1Token, { code: wrong }).expect(401)).body.code).toBe('invalid_code');
      expect((await reauthenticate(user.aal1Token, { password: PASSWORD, code: wrong }).expect(401)).body.code).toBe('invalid_code');
      expect(
        (await reauthenticate(user.aal1Token, { password: 'wrong password, long', code: codeAt(user.secret, now) }).expect(401)).body.code,
      ).toBe('invalid_credentials');
      // A wrong password does not use the code up.
      await reauthenticate(user.aal1Token, { password: PASSWORD, code: codeAt(user.secret, now) }).expect(200);
      user.step = now;
      const failures = (await eventsOf(user.userId, 'reauthenticated')).filter((e) => e.outcome === 'failure').map((e) => e.details.reason);
      expect(failures).toEqual(expect.arrayContaining(['wrong_code', 'wrong_password']));
      expect((await eventsOf(user.userId, 'mfa.failed'))[0].details).toMatchObject({ stage: 'reauthentication', reason: 'wrong_code' });
    });
  });

  describe('removing the factor and new recovery codes need a recent aal2 proof', () => {
    test('a stolen aal1 session with the password cannot remove TOTP or see new codes; password and code can', async () => {
      const user = await enabledUser();
      const byPassword = (await reauthenticate(user.aal1Token, { password: PASSWORD }).expect(200)).body.accessToken as string;
      for (const call of [t.http().delete('/auth/mfa/totp'), t.http().post('/auth/mfa/recovery-codes')]) {
        const refused = await call.set(bearer(byPassword)).expect(401);
        expect(refused.body.code).toBe('reauthentication_required');
        expect(refused.headers['www-authenticate']).toContain('acr_values="urn:tessera:aal2"');
      }
      const byCodeOnly = (await reauthenticate(user.aal1Token, { code: next(user) }).expect(200)).body.accessToken as string;
      await t.http().delete('/auth/mfa/totp').set(bearer(byCodeOnly)).expect(401);

      const aal2 = (await reauthenticate(user.aal1Token, { password: PASSWORD, code: next(user) }).expect(200)).body.accessToken as string;
      const regenerated = await t.http().post('/auth/mfa/recovery-codes').set(bearer(aal2)).expect(200);
      expect(regenerated.body.recoveryCodes).toHaveLength(10);
      // The old set died.
      expect((await loginMfa({ mfaToken: await firstStep(user), recoveryCode: user.recoveryCodes[0] }).expect(401)).body.code).toBe(
        'invalid_code',
      );
      await loginMfa({ mfaToken: await firstStep(user), recoveryCode: regenerated.body.recoveryCodes[0] }).expect(200);

      await t.http().delete('/auth/mfa/totp').set(bearer(aal2)).expect(204);
      expect(await eventsOf(user.userId, 'mfa.disabled')).toEqual([expect.objectContaining({ details: { method: 'totp' } })]);
      expect((await t.http().get('/auth/mfa').set(bearer(aal2)).expect(200)).body).toEqual({ totp: false, recoveryCodesLeft: 0 });
      // Password logins are one step again; the recovery codes went with the factor.
      expect((await login(user.email).expect(200)).body.accessToken).toEqual(expect.any(String));
      expect((await t.http().delete('/auth/mfa/totp').set(bearer(aal2)).expect(409)).body.code).toBe('mfa_not_enabled');
      expect((await t.http().post('/auth/mfa/recovery-codes').set(bearer(aal2)).expect(409)).body.code).toBe('mfa_not_enabled');
    });
  });

  describe('DELETE /admin/users/:id/mfa', () => {
    test("removes the user's factors, ends their sessions, and is recorded with the admin", async () => {
      const user = await enabledUser();
      const session = await loginMfa({ mfaToken: await firstStep(user), code: next(user) }).expect(200);
      await t.http().delete(`/admin/users/${user.userId}/mfa`).set(bearer(adminToken)).expect(204);
      expect(
        (
          await t
            .http()
            .get('/users/me')
            .set(bearer(session.body.accessToken as string))
            .expect(401)
        ).body.code,
      ).toBe('session_revoked');
      await t.http().get('/users/me').set(bearer(user.aal1Token)).expect(401);
      expect((await login(user.email).expect(200)).body.accessToken).toEqual(expect.any(String));
      const [disabled] = await eventsOf(user.userId, 'mfa.disabled');
      expect(disabled).toMatchObject({ actorId: adminId, details: { by: adminId, removed: { totp: true, webauthn: 0 } } });
      const [revoked] = await eventsOf(user.userId, 'sessions.revoked_all');
      expect(revoked).toMatchObject({ actorId: adminId, details: { reason: 'mfa_removed', count: 2 } });
    });

    test('404 for an unknown user; 403 for a non-admin', async () => {
      await t.http().delete('/admin/users/00000000-0000-4000-8000-000000000000/mfa').set(bearer(adminToken)).expect(404);
      const user = await enabledUser();
      await t.http().delete(`/admin/users/${user.userId}/mfa`).set(bearer(user.aal1Token)).expect(403);
    });
  });
});
