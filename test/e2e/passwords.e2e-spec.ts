import { afterAll, beforeAll, describe, expect, jest, test } from '@jest/globals';
import { hash } from '@node-rs/argon2';
import { UsersRepository } from '../../src/users/users.repository.js';
import { bearer, PASSWORD, refreshCookieOf, registerAndLogin, startApp, type TestApp, uniqueEmail } from '../support/app.js';

jest.setTimeout(60_000);

/** The password policy wherever a password is set; logins of existing passwords never meet it. */
describe('passwords: the policy on register and change, NFKC on hash and verify', () => {
  let t: TestApp;
  beforeAll(async () => {
    t = await startApp();
  });
  afterAll(async () => {
    await t.close();
  });

  const weak = (body: { code: string; errors?: { field: string; message: string }[] }, field: string, message: RegExp) => {
    expect(body.code).toBe('weak_password');
    expect(body.errors).toEqual([{ field, message: expect.stringMatching(message) }]);
  };

  /** Each refused on register (field `password`) and on change (field `newPassword`); `{local}` is the account's local part. */
  const REFUSED: [string, (local: string, email: string) => string, RegExp][] = [
    ['too short (under 15 characters)', () => 'short but ok!', /at least 15 characters/],
    ['too long (over 1024 characters)', () => 'vivid lantern orbit '.repeat(52).slice(0, 1025), /at most 1024 characters/],
    ['a common password', () => 'passwordpassword', /most common passwords/],
    ['a common password in capitals', () => '1QAZ2WSX3EDC4RFV', /most common passwords/],
    ['containing the email', (_local, email) => `my ${email.toUpperCase()} pass`, /email address/],
    ['containing the local part', (local) => `${local} and some words`, /email address/],
    ['containing "tessera"', () => 'my TESSERA passphrase', /name of this service/],
  ];

  test.each(REFUSED)(
    'register refuses a password %s: 400 weak_password naming `password`, no account made',
    async (_name, make, message) => {
      const email = uniqueEmail('policy');
      const password = make(email.split('@')[0], email);
      const response = await t.http().post('/auth/register').send({ email, password }).expect(400);
      weak(response.body, 'password', message);
      expect(JSON.stringify(response.body)).not.toContain(password);
      // No account was made: the address is still free.
      await t.http().post('/auth/register').send({ email, password: PASSWORD }).expect(201);
    },
  );

  test.each(REFUSED)(
    'change refuses a new password %s: 400 weak_password naming `newPassword`; the old password and sessions live on',
    async (_name, make, message) => {
      const user = await registerAndLogin(t);
      const other = await t.http().post('/auth/login').send({ email: user.email, password: PASSWORD }).expect(200);
      const newPassword = make(user.email.split('@')[0], user.email);
      const response = await t
        .http()
        .post('/auth/password')
        .set(bearer(user.accessToken))
        .send({ currentPassword: PASSWORD, newPassword })
        .expect(400);
      weak(response.body, 'newPassword', message);
      // Nothing changed: both sessions alive, the old password logs in, the refused one does not.
      await t.http().get('/users/me').set(bearer(user.accessToken)).expect(200);
      await t.http().get('/users/me').set(bearer(other.body.accessToken)).expect(200);
      await t.http().post('/auth/refresh').set('Cookie', refreshCookieOf(other.headers['set-cookie'])).expect(200);
      await t.http().post('/auth/login').send({ email: user.email, password: PASSWORD }).expect(200);
      if (newPassword.length <= 4096) await t.http().post('/auth/login').send({ email: user.email, password: newPassword }).expect(401);
    },
  );

  test('a password of 256 characters is accepted and logs in', async () => {
    const email = uniqueEmail();
    const password = 'vivid lantern orbit '.repeat(13).slice(0, 256);
    await t.http().post('/auth/register').send({ email, password }).expect(201);
    await t.http().post('/auth/login').send({ email, password }).expect(200);
  });

  test('register with a decomposed é, log in with the composed one (and back), change with either', async () => {
    const email = uniqueEmail();
    const decomposed = 'cafe\u0301 au lait with cre\u0300me';
    const composed = decomposed.normalize('NFC');
    expect(composed).not.toBe(decomposed);
    await t.http().post('/auth/register').send({ email, password: decomposed }).expect(201);
    await t.http().post('/auth/login').send({ email, password: composed }).expect(200);
    const login = await t.http().post('/auth/login').send({ email, password: decomposed }).expect(200);
    await t
      .http()
      .post('/auth/password')
      .set(bearer(login.body.accessToken))
      .send({ currentPassword: composed, newPassword: 'ｆｕｌｌ ｗｉｄｔｈ ｐｈｒａｓｅ ｈｅｒｅ' })
      .expect(204);
    // Full-width letters were stored as their NFKC (ASCII) form.
    await t.http().post('/auth/login').send({ email, password: 'full width phrase here' }).expect(200);
  });

  test('an account whose hash was made from a non-normalised password still logs in with it, and is rehashed to NFKC', async () => {
    const user = await registerAndLogin(t);
    const users = t.app.get(UsersRepository);
    const raw = 'ﬁne ﬂowers in the ﬁeld'; // ligatures ﬁ ﬂ: NFKC turns them into "fi" "fl"
    const nfkc = raw.normalize('NFKC');
    expect(nfkc).toBe('fine flowers in the field');
    // As an older Tessera stored it: argon2id of the raw string.
    const oldHash = await hash(raw, { algorithm: 2, memoryCost: 19456, timeCost: 2, parallelism: 1 });
    await users.setPasswordHash(user.userId, oldHash);

    // The NFKC form does not match the old hash…
    await t.http().post('/auth/login').send({ email: user.email, password: nfkc }).expect(401);
    // …the raw form does, and that login replaces the stored hash by one of the NFKC form.
    await t.http().post('/auth/login').send({ email: user.email, password: raw }).expect(200);
    const newHash = await users.findPasswordHash(user.userId);
    expect(newHash).not.toBe(oldHash);
    expect(newHash).toMatch(/^\$argon2id\$/);
    await t.http().post('/auth/login').send({ email: user.email, password: nfkc }).expect(200);
    await t.http().post('/auth/login').send({ email: user.email, password: raw }).expect(200);
    // An ordinary login leaves the (already NFKC) hash alone.
    expect(await users.findPasswordHash(user.userId)).toBe(newHash);
  });

  test('a weak existing password (set before the policy) still logs in: login never applies the policy', async () => {
    const user = await registerAndLogin(t);
    const users = t.app.get(UsersRepository);
    await users.setPasswordHash(user.userId, await hash('password', { algorithm: 2, memoryCost: 19456, timeCost: 2, parallelism: 1 }));
    await t.http().post('/auth/login').send({ email: user.email, password: 'password' }).expect(200);
  });
});

describe('passwords: PASSWORD_MIN_LENGTH=8', () => {
  let t: TestApp;
  beforeAll(async () => {
    t = await startApp({ PASSWORD_MIN_LENGTH: '8' });
  });
  afterAll(async () => {
    await t.close();
  });

  test('an 8-character password passes; 7 and the common 8-character ones do not', async () => {
    await t.http().post('/auth/register').send({ email: uniqueEmail(), password: 'mauve ok' }).expect(201);
    const short = await t.http().post('/auth/register').send({ email: uniqueEmail(), password: 'mauve o' }).expect(400);
    expect(short.body.errors).toEqual([{ field: 'password', message: 'must be at least 8 characters' }]);
    for (const password of ['password', 'iloveyou', 'ｐａｓｓｗｏｒｄ']) {
      const common = await t.http().post('/auth/register').send({ email: uniqueEmail(), password }).expect(400);
      expect(common.body).toMatchObject({
        code: 'weak_password',
        errors: [{ field: 'password', message: 'is one of the most common passwords' }],
      });
    }
  });
});
