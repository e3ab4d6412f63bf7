import { afterAll, afterEach, beforeAll, describe, expect, jest, test } from '@jest/globals';
import { Secret, TOTP } from 'otpauth';
import { MfaClock } from '../../src/auth/mfa/mfa-clock.js';
import { SecondFactors } from '../../src/auth/second-factors.service.js';
import { UsersService } from '../../src/users/users.service.js';
import { bearer, PASSWORD, registerAndLogin, startApp, type TestApp, uniqueEmail } from '../support/app.js';
import { SoftwareAuthenticator } from '../support/software-authenticator.js';
import { STEP_MS as TOTP_STEP_MS, stepUpToAal2 } from '../support/mfa.js';

/*
 * MFA_REQUIRED_ROLES=admin,ops: holders of these roles must enrol a second factor before anything
 * but enrolment works, and admin routes want a session proved with two factors (RFC 9470
 * acr_values). Users without these roles are untouched.
 */
const STEP_MS = 30_000;
const S = Math.floor(Date.now() / STEP_MS);
const codeAt = (secret: string, step: number) => new TOTP({ secret: Secret.fromBase32(secret) }).generate({ timestamp: step * STEP_MS });

describe('MFA_REQUIRED_ROLES', () => {
  let t: TestApp;
  let clock: MfaClock;
  const adminEmail = uniqueEmail('admin');

  beforeAll(async () => {
    t = await startApp({ BOOTSTRAP_ADMIN_EMAIL: adminEmail, BOOTSTRAP_ADMIN_PASSWORD: PASSWORD, MFA_REQUIRED_ROLES: 'admin,ops' });
    clock = t.app.get(MfaClock);
  });
  afterAll(async () => {
    await t?.close();
  });
  afterEach(() => {
    jest.restoreAllMocks();
  });
  const at = (step: number) => jest.spyOn(clock, 'now').mockReturnValue(step * STEP_MS + STEP_MS / 2);

  test('an admin without a second factor: 403 mfa_enrolment_required everywhere but the enrolment basics; then aal2 for /admin', async () => {
    const admin = await t.http().post('/auth/login').send({ email: adminEmail, password: PASSWORD }).expect(200);
    const token = admin.body.accessToken as string;
    const someone = await registerAndLogin(t);

    // Refused: admin routes, and ordinary authenticated routes too.
    for (const call of [
      t.http().get(`/admin/users/${someone.userId}`),
      t.http().get('/auth/sessions'),
      t.http().get('/auth/activity'),
      t.http().delete('/auth/mfa/totp'),
    ]) {
      const refused = await call.set(bearer(token)).expect(403);
      expect(refused.body).toMatchObject({ status: 403, code: 'mfa_enrolment_required' });
    }
    // Open: what it takes to enrol.
    await t.http().get('/users/me').set(bearer(token)).expect(200);
    await t.http().get('/auth/mfa').set(bearer(token)).expect(200);
    await t.http().post('/auth/reauthenticate').set(bearer(token)).send({ password: PASSWORD }).expect(200);
    const enrolment = await t.http().post('/auth/mfa/totp').set(bearer(token)).expect(200);
    const secret = enrolment.body.secret as string;
    at(S);
    await t
      .http()
      .post('/auth/mfa/totp/confirm')
      .set(bearer(token))
      .send({ code: codeAt(secret, S) })
      .expect(200);

    // Enrolled: ordinary routes work at once; admin routes want two factors (this session proved a password only).
    await t.http().get('/auth/sessions').set(bearer(token)).expect(200);
    const challenged = await t.http().get(`/admin/users/${someone.userId}`).set(bearer(token)).expect(401);
    expect(challenged.body.code).toBe('reauthentication_required');
    expect(challenged.headers['www-authenticate']).toBe(
      'Bearer error="insufficient_user_authentication", max_age=300, acr_values="urn:tessera:aal2"',
    );
    // A code alone is still one factor.
    at(S + 1);
    const byCode = await t
      .http()
      .post('/auth/reauthenticate')
      .set(bearer(token))
      .send({ code: codeAt(secret, S + 1) })
      .expect(200);
    await t
      .http()
      .get(`/admin/users/${someone.userId}`)
      .set(bearer(byCode.body.accessToken as string))
      .expect(401);
    at(S + 2);
    const aal2 = await t
      .http()
      .post('/auth/reauthenticate')
      .set(bearer(token))
      .send({ password: PASSWORD, code: codeAt(secret, S + 2) })
      .expect(200);
    await t
      .http()
      .get(`/admin/users/${someone.userId}`)
      .set(bearer(aal2.body.accessToken as string))
      .expect(200);

    // Logging out works without a factor too (checked here with one; the route is exempt either way).
    await t.http().post('/auth/logout-all-devices').set(bearer(token)).expect(204);
  });

  test('users without those roles are untouched', async () => {
    const user = await registerAndLogin(t);
    await t.http().get('/auth/sessions').set(bearer(user.accessToken)).expect(200);
    await t.http().get('/auth/activity').set(bearer(user.accessToken)).expect(200);
  });

  test('another listed role is held to it too; a factor removed on this instance counts at once', async () => {
    const admin = await t.http().post('/auth/login').send({ email: adminEmail, password: PASSWORD }).expect(200);
    expect(admin.body.mfaRequired).toBe(true);
    const user = await registerAndLogin(t);
    const factors = t.app.get(SecondFactors);
    // Grant the role directly (an aal2 admin session is the HTTP way; not this test's subject).
    await t.app.get(UsersService).update(user.userId, { roles: ['user', 'ops'] });
    const relogin = await t.http().post('/auth/login').send({ email: user.email, password: PASSWORD }).expect(200);
    const token = relogin.body.accessToken as string;
    expect((await t.http().get('/auth/sessions').set(bearer(token)).expect(403)).body.code).toBe('mfa_enrolment_required');

    const secret = (await t.http().post('/auth/mfa/totp').set(bearer(token)).expect(200)).body.secret as string;
    at(S);
    await t
      .http()
      .post('/auth/mfa/totp/confirm')
      .set(bearer(token))
      .send({ code: codeAt(secret, S) })
      .expect(200);
    await t.http().get('/auth/sessions').set(bearer(token)).expect(200);
    expect(await factors.hasAny(user.userId)).toBe(true);
    await factors.removeAll(user.userId);
    expect((await t.http().get('/auth/sessions').set(bearer(token)).expect(403)).body.code).toBe('mfa_enrolment_required');
  });
});

describe('second factors: passkeys count as one, and an admin removes them with the rest', () => {
  const ORIGIN = 'http://localhost:3000';
  let t: TestApp;
  const adminEmail = uniqueEmail('admin');

  beforeAll(async () => {
    t = await startApp({
      PUBLIC_ORIGIN: ORIGIN,
      BOOTSTRAP_ADMIN_EMAIL: adminEmail,
      BOOTSTRAP_ADMIN_PASSWORD: PASSWORD,
      MFA_REQUIRED_ROLES: 'ops',
    });
  });
  afterAll(async () => {
    await t?.close();
  });

  const passkeyLogin = async (authenticator: SoftwareAuthenticator) => {
    const options = (await t.http().post('/auth/passkeys/login/options').expect(200)).body as Record<string, unknown>;
    return t
      .http()
      .post('/auth/passkeys/login')
      .send({ response: authenticator.assert(options) });
  };

  test('MFA_REQUIRED_ROLES is satisfied by a passkey; DELETE /admin/users/:id/mfa removes it, and it logs in no more', async () => {
    const user = await registerAndLogin(t);
    await t.app.get(UsersService).update(user.userId, { roles: ['user', 'ops'] });
    const token = (await t.http().post('/auth/login').send({ email: user.email, password: PASSWORD }).expect(200)).body
      .accessToken as string;
    expect((await t.http().get('/auth/sessions').set(bearer(token)).expect(403)).body.code).toBe('mfa_enrolment_required');

    // Registering a passkey is part of enrolling: open before the user has a factor.
    const authenticator = new SoftwareAuthenticator(ORIGIN);
    const options = (await t.http().post('/auth/passkeys/registration/options').set(bearer(token)).expect(200)).body as Record<
      string,
      unknown
    >;
    await t
      .http()
      .post('/auth/passkeys')
      .set(bearer(token))
      .send({ response: authenticator.register(options) })
      .expect(201);
    await t.http().get('/auth/sessions').set(bearer(token)).expect(200);
    expect((await passkeyLogin(authenticator)).status).toBe(200);

    // Lost device: an admin removes the user's second factors; the passkey is gone and the user's sessions ended.
    const password = (await t.http().post('/auth/login').send({ email: adminEmail, password: PASSWORD }).expect(200)).body
      .accessToken as string;
    // A password alone is not enough to remove someone's factors: the admin steps up with two.
    const refusedAdmin = await t.http().delete(`/admin/users/${user.userId}/mfa`).set(bearer(password)).expect(401);
    expect(refusedAdmin.headers['www-authenticate']).toContain('acr_values="urn:tessera:aal2"');
    const admin = await stepUpToAal2(t, t.app.get(MfaClock), password, Math.floor(Date.now() / TOTP_STEP_MS) - 10);
    await t.http().delete(`/admin/users/${user.userId}/mfa`).set(bearer(admin)).expect(204);
    expect((await t.http().get('/users/me').set(bearer(token)).expect(401)).body.code).toBe('session_revoked');
    const refused = await passkeyLogin(authenticator);
    expect(refused.status).toBe(401);
    expect(refused.body.code).toBe('invalid_passkey');
    const again = (await t.http().post('/auth/login').send({ email: user.email, password: PASSWORD }).expect(200)).body
      .accessToken as string;
    expect((await t.http().get('/auth/passkeys').set(bearer(again)).expect(200)).body).toEqual([]);
    expect((await t.http().get('/auth/sessions').set(bearer(again)).expect(403)).body.code).toBe('mfa_enrolment_required');
  });
});
