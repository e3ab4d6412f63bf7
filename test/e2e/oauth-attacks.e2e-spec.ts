import { afterAll, beforeAll, describe, expect, test } from '@jest/globals';
import { PASSWORD, refreshCookieOf, startApp, type TestApp, uniqueEmail } from '../support/app.js';

/**
 * Attacks on the form-body parsing, /oauth/introspect, /oauth/revoke and their client
 * authentication. Each test asserts the secure behaviour; see the comment on each for the attack.
 */
const CLIENT = 'Basic ' + Buffer.from('example-downstream:development-only-downstream-secret').toString('base64');
const WRONG_CLIENT = 'Basic ' + Buffer.from('example-downstream:not-the-secret').toString('base64');
const FORM = 'application/x-www-form-urlencoded';

describe('attacks on form bodies and /oauth/*', () => {
  let t: TestApp;

  beforeAll(async () => {
    t = await startApp();
  });
  afterAll(async () => {
    await t.close();
  });

  /** A browser login: the refresh token in a cookie (what a CSRF rides on). */
  async function browserLogin() {
    const email = uniqueEmail('attack');
    await t.http().post('/auth/register').send({ email, password: PASSWORD }).expect(201);
    const login = await t.http().post('/auth/login').send({ email, password: PASSWORD }).expect(200);
    return { accessToken: login.body.accessToken as string, cookie: refreshCookieOf(login.headers['set-cookie']) };
  }
  async function nativeLogin() {
    const email = uniqueEmail('attack');
    await t.http().post('/auth/register').send({ email, password: PASSWORD }).expect(201);
    const body = (await t.http().post('/auth/login').send({ email, password: PASSWORD, client: 'native' }).expect(200)).body;
    return { accessToken: body.accessToken as string, refreshToken: body.refreshToken as string };
  }
  const introspect = (body: string, contentType = FORM, authorization: string | null = CLIENT) => {
    const call = t.http().post('/oauth/introspect').set('Content-Type', contentType);
    if (authorization !== null) call.set('Authorization', authorization);
    return call.send(body);
  };

  // CSRF: a cross-site HTML form (no preflight) can POST urlencoded, multipart or text/plain
  // bodies with the victim's cookies. None of them may be parsed on a non-/oauth route, so a
  // forged form never logs the victim out, rotates their refresh token, or changes their password.
  describe.each([
    ['urlencoded', FORM],
    ['urlencoded with a charset', 'application/x-www-form-urlencoded; charset=UTF-8'],
    ['urlencoded, upper case', 'APPLICATION/X-WWW-FORM-URLENCODED'],
    ['urlencoded, trailing semicolon', 'application/x-www-form-urlencoded;'],
    ['multipart', 'multipart/form-data; boundary=xyz'],
    ['text/plain', 'text/plain'],
    ['text/plain with a charset', 'text/plain;charset=UTF-8'],
  ])('a cross-site form (%s)', (_label, contentType) => {
    const body = contentType.startsWith('multipart') ? '--xyz\r\nContent-Disposition: form-data; name="a"\r\n\r\nb\r\n--xyz--\r\n' : '';

    test('cannot log the victim out (POST /auth/logout with the refresh cookie)', async () => {
      const victim = await browserLogin();
      const res = await t.http().post('/auth/logout').set('Cookie', victim.cookie).set('Content-Type', contentType).send(body);
      expect(res.status).toBeGreaterThanOrEqual(400);
      expect(res.status).toBeLessThan(500);
      await t.http().get('/users/me').set('Authorization', `Bearer ${victim.accessToken}`).expect(200);
    });

    test('cannot rotate the victim refresh token (POST /auth/refresh with the cookie)', async () => {
      const victim = await browserLogin();
      const res = await t.http().post('/auth/refresh').set('Cookie', victim.cookie).set('Content-Type', contentType).send(body);
      expect(res.status).toBeGreaterThanOrEqual(400);
      expect(res.status).toBeLessThan(500);
      // The cookie still works: nothing was consumed.
      await t.http().post('/auth/refresh').set('Cookie', victim.cookie).expect(200);
    });

    test('is never parsed on a JSON route (POST /auth/login with form fields)', async () => {
      const email = uniqueEmail('attack');
      await t.http().post('/auth/register').send({ email, password: PASSWORD }).expect(201);
      const fields = contentType.startsWith('multipart')
        ? `--xyz\r\nContent-Disposition: form-data; name="email"\r\n\r\n${email}\r\n--xyz\r\nContent-Disposition: form-data; name="password"\r\n\r\n${PASSWORD}\r\n--xyz--\r\n`
        : new URLSearchParams({ email, password: PASSWORD }).toString();
      const res = await t.http().post('/auth/login').set('Content-Type', contentType).send(fields);
      expect(res.status).toBe(415);
    });
  });

  // Path tricks: a URL that is *routed* to a JSON route but textually starts with /oauth/ must not get a form parser.
  test.each(['/oauth/../auth/logout', '/oauth/%2e%2e/auth/logout', '/oauth//../auth/logout'])(
    'a form body to %s (routed elsewhere) is not parsed',
    async (path) => {
      const victim = await browserLogin();
      const res = await t.http().post(path).set('Cookie', victim.cookie).set('Content-Type', FORM).send('a=b');
      expect(res.status).toBeGreaterThanOrEqual(400);
      expect(res.status).toBeLessThan(500);
      await t.http().get('/users/me').set('Authorization', `Bearer ${victim.accessToken}`).expect(200);
    },
  );

  // No input may produce a 500 (an unhandled error is an oracle and an alarm-fatigue DoS).
  test.each([
    ['prototype pollution (__proto__)', '__proto__=x&token=abc'],
    ['prototype pollution (constructor[prototype])', 'constructor[prototype][active]=true&token=abc'],
    ['prototype pollution (__proto__[token])', '__proto__[token]=abc'],
    ['a bracketed token', 'token[]=abc'],
    ['a NUL in the token', 'token=%00'],
    ['a NUL refresh-shaped token', 'token=a.b%00.c.d.e'],
    ['broken percent-encoding', 'token=%E0%A4%A'],
    ['a lone surrogate', 'token=%ED%A0%80'],
    ['five empty parts', 'token=....'],
    ['six empty parts', 'token=.....'],
    ['a JWT of garbage', 'token=eyJ.eyJ.sig'],
    ['a JWT with a JSON array header', `token=${Buffer.from('[]').toString('base64url')}.e30.x`],
    ['a JWT with a null header', `token=${Buffer.from('null').toString('base64url')}.e30.x`],
    ['a token of only dots', 'token=..'],
    ['an empty name', '=x&token=abc'],
    ['a token of 4096 chars', `token=${'a'.repeat(4096)}`],
    ['a refresh-shaped token with a uuid-ish part', `token=${'0'.repeat(36)}.1.x.y.z`],
  ])('introspect and revoke answer < 500 for %s', async (_label, body) => {
    const i = await introspect(body);
    expect(i.status).toBeLessThan(500);
    const r = await t.http().post('/oauth/revoke').set('Content-Type', FORM).send(body);
    expect(r.status).toBeLessThan(500);
  });

  test('introspection answers never carry a polluted `active` (constructor[prototype] / __proto__)', async () => {
    const res = await introspect('__proto__[active]=true&constructor[prototype][active]=true&token=nothing');
    expect(res.status).toBe(200);
    expect(res.body).toEqual({ active: false });
  });

  // Parameter pollution: `token` twice could be read as one value by a WAF and another by the app.
  test('a repeated token (or token twice in different case) is refused or read once', async () => {
    const victim = await nativeLogin();
    const res = await introspect(`token=nothing&token=${victim.accessToken}`);
    expect(res.status).toBe(400);
    const res2 = await introspect(`token=nothing&TOKEN=${victim.accessToken}`);
    expect(res2.body).toEqual({ active: false });
  });

  // Smuggling a form body on /oauth with a JSON content type must not be parsed as JSON either.
  test('a JSON body on /oauth/introspect is 415', async () => {
    const victim = await nativeLogin();
    const res = await introspect(JSON.stringify({ token: victim.accessToken }), 'application/json');
    expect(res.status).toBe(415);
  });

  test('a huge form body is 413, not 500', async () => {
    const res = await introspect(`token=${'a'.repeat(200_000)}`);
    expect(res.status).toBe(413);
  });

  // Introspection must never consume or reuse-detect a refresh token: otherwise a service (or
  // anyone with a client credential) introspecting a stolen *older* token ends the victim's session.
  test('introspecting a refresh token (current, then a rotated one) never ends the session', async () => {
    const victim = await nativeLogin();
    expect((await introspect(`token=${encodeURIComponent(victim.refreshToken)}`).expect(200)).body.active).toBe(true);
    const rotated = (await t.http().post('/auth/refresh').send({ refreshToken: victim.refreshToken }).expect(200)).body;
    expect((await introspect(`token=${encodeURIComponent(victim.refreshToken)}`).expect(200)).body).toEqual({ active: false });
    expect((await introspect(`token=${encodeURIComponent(victim.refreshToken)}`).expect(200)).body).toEqual({ active: false });
    await t.http().get('/users/me').set('Authorization', `Bearer ${rotated.accessToken}`).expect(200);
    await t.http().post('/auth/refresh').send({ refreshToken: rotated.refreshToken }).expect(200);
  });

  // Revoke without holding a token: the sid/sub of a victim (as returned by introspection, or
  // guessed) must not be enough to end their session; only the token itself.
  test('revoke with a forged token naming the victim session ends nothing', async () => {
    const victim = await nativeLogin();
    const [h, p] = victim.accessToken.split('.');
    const forged = `${h}.${p}.${Buffer.from('not a signature').toString('base64url')}`;
    await t.http().post('/oauth/revoke').set('Content-Type', FORM).send(`token=${forged}`).expect(200);
    const parts = victim.refreshToken.split('.');
    parts[parts.length - 1] = 'AAAA';
    await t
      .http()
      .post('/oauth/revoke')
      .set('Content-Type', FORM)
      .send(`token=${encodeURIComponent(parts.join('.'))}`)
      .expect(200);
    await t.http().get('/users/me').set('Authorization', `Bearer ${victim.accessToken}`).expect(200);
    await t.http().post('/auth/refresh').send({ refreshToken: victim.refreshToken }).expect(200);
  });

  // Client authentication oddities: none may be a 500, none may authenticate.
  test.each([
    ['Basic with no colon', 'Basic ' + Buffer.from('example-downstream').toString('base64')],
    ['Basic with bad percent-encoding', 'Basic ' + Buffer.from('%E0%A4%A:x').toString('base64')],
    ['Basic of an empty id and secret', 'Basic ' + Buffer.from(':').toString('base64')],
    [
      'Basic with the id only form-encoded',
      'Basic ' + Buffer.from('example%2Ddownstream:development-only-downstream-secret%00').toString('base64'),
    ],
    ['Bearer', 'Bearer abc'],
    ['Basic with a huge value', 'Basic ' + 'A'.repeat(6000)],
    ['Basic with a prototype id', 'Basic ' + Buffer.from('__proto__:x').toString('base64')],
    ['Basic with a constructor id', 'Basic ' + Buffer.from('constructor:x').toString('base64')],
  ])('introspect refuses %s with 401 invalid_client', async (_label, authorization) => {
    const res = await introspect('token=abc', FORM, authorization);
    expect(res.status).toBe(401);
  });
});

describe('attacks on /oauth client authentication throttling', () => {
  let t: TestApp;

  beforeAll(async () => {
    t = await startApp({ THROTTLE_LOGIN_LIMIT: '3' });
  });
  afterAll(async () => {
    await t.close();
  });

  // DoS: failed client authentications are counted per IP and checked *before* the credential,
  // so anyone sharing the address of a legitimate service (a NAT, a mesh sidecar, a proxy when
  // TRUST_PROXY is off, so every request has the proxy's IP) locks every service out of
  // introspection by sending a few wrong secrets; services then fail closed (all their users
  // get 401/503). A valid credential must still be answered (the secret is unguessable; the
  // throttle only needs to stop guessing, e.g. keyed by client id or checked after a failure).
  test('a few wrong secrets from the same address do not lock a valid service out of introspection', async () => {
    for (let i = 0; i < 4; i++)
      await t.http().post('/oauth/introspect').set('Content-Type', FORM).set('Authorization', WRONG_CLIENT).send('token=x');
    const res = await t.http().post('/oauth/introspect').set('Content-Type', FORM).set('Authorization', CLIENT).send('token=x');
    expect(res.status).toBe(200);
  });

  // Rate-limit bypass: with TRUST_PROXY off, a spoofed X-Forwarded-For must not give the guesser a fresh bucket.
  test('a spoofed X-Forwarded-For does not reset the client-secret guessing limit', async () => {
    for (let i = 0; i < 4; i++)
      await t.http().post('/oauth/introspect').set('Content-Type', FORM).set('Authorization', WRONG_CLIENT).send('token=x');
    const res = await t
      .http()
      .post('/oauth/introspect')
      .set('Content-Type', FORM)
      .set('X-Forwarded-For', '203.0.113.9')
      .set('Authorization', WRONG_CLIENT)
      .send('token=x');
    expect(res.status).toBe(429);
  });

  // Same, on revoke: a user's app revoking its own token (no credential needed) must not be
  // blocked because someone else at the address sent wrong client secrets.
  test('a few wrong secrets from the same address do not stop token holders from revoking', async () => {
    for (let i = 0; i < 4; i++)
      await t.http().post('/oauth/revoke').set('Content-Type', FORM).set('Authorization', WRONG_CLIENT).send('token=x');
    const res = await t.http().post('/oauth/revoke').set('Content-Type', FORM).send('token=x');
    expect(res.status).toBe(200);
  });
});
