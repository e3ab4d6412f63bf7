import { afterAll, beforeAll, describe, expect, test } from '@jest/globals';
import { bearer, PASSWORD, refreshCookieOf, registerAndLogin, startApp, type TestApp, uniqueEmail } from '../support/app.js';

describe('register, login, /users/me, logout', () => {
  let t: TestApp;
  beforeAll(async () => {
    t = await startApp();
  });
  afterAll(async () => {
    await t.close();
  });

  test('register normalises the email and answers 201 {id, email, roles}', async () => {
    const email = uniqueEmail('Ada');
    const response = await t
      .http()
      .post('/auth/register')
      .send({ email: `  ${email.toUpperCase()} `, password: PASSWORD })
      .expect(201);
    expect(response.body).toEqual({ id: expect.stringMatching(/^[0-9a-f-]{36}$/), email: email.toLowerCase(), roles: ['user'] });
    expect(JSON.stringify(response.body)).not.toContain('password');
  });

  test('registering the same email twice (any case) is 409 email_taken', async () => {
    const email = uniqueEmail();
    await t.http().post('/auth/register').send({ email, password: PASSWORD }).expect(201);
    const again = await t.http().post('/auth/register').send({ email: email.toUpperCase(), password: PASSWORD }).expect(409);
    expect(again.headers['content-type']).toMatch(/^application\/problem\+json/);
    expect(again.body).toMatchObject({
      status: 409,
      code: 'email_taken',
      type: expect.any(String),
      title: expect.any(String),
      detail: expect.any(String),
    });
  });

  test.each([
    [{ email: 'not-an-email', password: PASSWORD }, 'email'],
    // Lengths and the rest of the password policy answer weak_password (passwords.e2e-spec.ts).
    [{ email: uniqueEmail(), password: 1234567890123456 }, 'password'],
    [{ email: uniqueEmail() }, 'password'],
    [{ email: uniqueEmail(), password: PASSWORD, roles: ['admin'] }, 'roles'],
    [{ password: PASSWORD }, 'email'],
  ])('register rejects %j with validation_failed on %s', async (body, field) => {
    const response = await t.http().post('/auth/register').send(body).expect(400);
    expect(response.body.code).toBe('validation_failed');
    expect(response.body.errors).toEqual(expect.arrayContaining([expect.objectContaining({ field, message: expect.any(String) })]));
  });

  test('login and refresh errors (400, 401) carry no-store too, as every problem does', async () => {
    const answers = [
      await t.http().post('/auth/login').send({ email: 'nobody@example.com', password: 'wrong password 123' }),
      await t.http().post('/auth/login').send({ email: 'not an email' }),
      await t.http().post('/auth/refresh').send({}),
      await t.http().post('/auth/refresh').set('Cookie', '__Secure-refresh_token=garbage'),
      await t.http().get('/no/such/route'),
    ];
    expect(answers.map((r) => [r.status, r.headers['cache-control']])).toEqual(answers.map((r) => [r.status, 'no-store']));
    expect(answers.every((r) => r.status >= 400)).toBe(true);
  });

  test('login returns the token body, the refresh cookie with the contract attributes, and no-store', async () => {
    const email = uniqueEmail();
    await t.http().post('/auth/register').send({ email, password: PASSWORD }).expect(201);
    const response = await t.http().post('/auth/login').send({ email, password: PASSWORD }).expect(200);
    expect(response.body).toEqual({ accessToken: expect.any(String), tokenType: 'Bearer', expiresIn: 900, sessionId: expect.any(String) });
    expect(response.body.refreshToken).toBeUndefined();
    expect(response.headers['cache-control']).toBe('no-store');
    const cookie = (response.headers['set-cookie'] as unknown as string[]).find((c) => c.startsWith('__Secure-refresh_token='))!;
    expect(cookie).toBeDefined();
    expect(cookie).toMatch(/; HttpOnly/);
    expect(cookie).toMatch(/; Secure/);
    expect(cookie).toMatch(/; SameSite=Strict/);
    expect(cookie).toMatch(/; Path=\/auth(;|$)/);
    const maxAge = Number(/Max-Age=(\d+)/.exec(cookie)![1]);
    expect(maxAge).toBeGreaterThan(7 * 86400 - 5);
    expect(maxAge).toBeLessThanOrEqual(7 * 86400);
    // Opaque, not a JWT: <userId>.<sessionId>.<generation>.<256-bit secret>.<server key id>.<tag>
    const token = cookie.split(';')[0].split('=')[1];
    const [userId, sessionId, generation, secret] = token.split('.');
    expect(token.split('.')).toHaveLength(6);
    expect({ userId, sessionId, generation }).toEqual({
      userId: expect.stringMatching(/^[0-9a-f-]{36}$/),
      sessionId: response.body.sessionId,
      generation: '0',
    });
    expect(Buffer.from(secret, 'base64url')).toHaveLength(32);
  });

  test('a native client gets the refresh token in the body and no cookie', async () => {
    const email = uniqueEmail();
    await t.http().post('/auth/register').send({ email, password: PASSWORD }).expect(201);
    const response = await t.http().post('/auth/login').send({ email, password: PASSWORD, client: 'native' }).expect(200);
    expect(response.body.refreshToken).toEqual(expect.any(String));
    expect(refreshCookieOf(response.headers['set-cookie'])).toBe('');
  });

  test('unknown email and wrong password get the same 401 invalid_credentials body', async () => {
    const email = uniqueEmail();
    await t.http().post('/auth/register').send({ email, password: PASSWORD }).expect(201);
    const wrong = await t
      .http()
      .post('/auth/login')
      .send({ email, password: `${PASSWORD}!` })
      .expect(401);
    const unknown = await t.http().post('/auth/login').send({ email: uniqueEmail(), password: PASSWORD }).expect(401);
    const strip = (body: Record<string, unknown>) => ({ ...body, instance: undefined });
    expect(strip(wrong.body)).toEqual(strip(unknown.body));
    expect(wrong.body.code).toBe('invalid_credentials');
  });

  test('login refuses control characters in the email with 400, and a non-string field by its type', async () => {
    const nul = await t.http().post('/auth/login').send({ email: 'a\u0000@b.c', password: PASSWORD }).expect(400);
    expect(nul.body.errors[0].field).toBe('email');
    for (const body of [
      { email: '\ud800@b.com', password: PASSWORD },
      { email: uniqueEmail(), password: '\ud800'.repeat(10) },
    ]) {
      const lone = await t.http().post('/auth/register').set('Content-Type', 'application/json').send(JSON.stringify(body)).expect(400);
      expect(lone.body.code).toBe('validation_failed');
    }
    const typed = await t.http().post('/auth/login').send({ email: uniqueEmail(), password: 42 }).expect(400);
    expect(typed.body.errors).toEqual([{ field: 'password', message: 'password must be a string' }]);
  });

  test('passwords are verified in full (NFKC aside): no case folding, no truncation', async () => {
    const email = uniqueEmail();
    const long = 'p'.repeat(100) + 'END';
    await t.http().post('/auth/register').send({ email, password: long }).expect(201);
    await t.http().post('/auth/login').send({ email, password: long.toUpperCase() }).expect(401);
    await t
      .http()
      .post('/auth/login')
      .send({ email, password: 'p'.repeat(100) + 'XXX' })
      .expect(401);
    await t.http().post('/auth/login').send({ email, password: long }).expect(200);
  });

  test('/users/me answers the user for a valid token', async () => {
    const user = await registerAndLogin(t);
    const me = await t.http().get('/users/me').set(bearer(user.accessToken)).expect(200);
    expect(me.body).toEqual({ id: user.userId, email: user.email, roles: ['user'], emailVerified: false });
  });

  test('/users/me without a token is 401 with WWW-Authenticate invalid_request', async () => {
    const response = await t.http().get('/users/me').expect(401);
    expect(response.headers['www-authenticate']).toBe('Bearer error="invalid_request"');
    expect(response.body.code).toBe('missing_token');
  });

  test('logout with the Bearer token ends the session: the old access token is refused next', async () => {
    const user = await registerAndLogin(t);
    const logout = await t.http().post('/auth/logout').set(bearer(user.accessToken)).expect(204);
    expect(refreshCookieOf(logout.headers['set-cookie'])).toMatch(/^__Secure-refresh_token=$/);
    expect(logout.headers['set-cookie'][0]).toMatch(/Max-Age=0/);
    const after = await t.http().get('/users/me').set(bearer(user.accessToken)).expect(401);
    expect(after.body.code).toBe('session_revoked');
    expect(after.headers['www-authenticate']).toMatch(/^Bearer error="invalid_token"/);
  });

  test('logout with only the refresh cookie ends the session', async () => {
    const user = await registerAndLogin(t);
    await t.http().post('/auth/logout').set('Cookie', user.cookie).expect(204);
    await t.http().get('/users/me').set(bearer(user.accessToken)).expect(401);
  });

  test('logout with a native client refresh token in the body ends the session', async () => {
    const email = uniqueEmail();
    await t.http().post('/auth/register').send({ email, password: PASSWORD }).expect(201);
    const login = await t.http().post('/auth/login').send({ email, password: PASSWORD, client: 'native' }).expect(200);
    await t.http().post('/auth/logout').send({ refreshToken: login.body.refreshToken }).expect(204);
    await t.http().get('/users/me').set(bearer(login.body.accessToken)).expect(401);
  });

  test('logout without any token is 401; with a made-up refresh token it is 401 and ends nothing', async () => {
    const user = await registerAndLogin(t);
    await t.http().post('/auth/logout').expect(401);
    const forged = `${user.userId}.${user.sessionId}.${'A'.repeat(43)}`;
    const response = await t.http().post('/auth/logout').send({ refreshToken: forged }).expect(401);
    expect(response.body.code).toBe('invalid_refresh_token');
    await t.http().get('/users/me').set(bearer(user.accessToken)).expect(200);
  });

  test('a cookie logout from a foreign Origin is 403 forbidden_origin and does not end the session', async () => {
    const user = await registerAndLogin(t);
    const response = await t.http().post('/auth/logout').set('Cookie', user.cookie).set('Origin', 'https://evil.example').expect(403);
    expect(response.body.code).toBe('forbidden_origin');
    await t.http().get('/users/me').set(bearer(user.accessToken)).expect(200);
    await t.http().post('/auth/logout').set('Cookie', user.cookie).expect(204);
  });

  test('sessions of one user are independent: logging out one leaves the other working', async () => {
    const user = await registerAndLogin(t);
    const second = await t.http().post('/auth/login').send({ email: user.email, password: PASSWORD }).expect(200);
    await t.http().post('/auth/logout').set(bearer(user.accessToken)).expect(204);
    await t.http().get('/users/me').set(bearer(second.body.accessToken)).expect(200);
  });
});
