import { randomInt } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, test } from '@jest/globals';
import { eq, sql } from 'drizzle-orm';
import { createClient } from 'redis';
import { DATABASE, type Database } from '../../src/database/database.js';
import { linkTokens } from '../../src/database/schema.js';
import { bearer, PASSWORD, refreshCookieOf, startApp, type TestApp, uniqueEmail } from '../support/app.js';
import { type ReceivedMail, TestMailbox } from '../support/mailbox.js';
import { sleep } from '../support/services.js';

/**
 * The account lifecycle end to end, with mail through a real SMTP server (TestMailbox): register →
 * verify, new verification links, forgot/reset password, email change, REQUIRE_VERIFIED_EMAIL, the
 * mail limits, and where tokens must never appear.
 */
const clientIp = () => `10.${randomInt(256)}.${randomInt(256)}.${randomInt(1, 255)}`;
const TOKEN = /^[A-Za-z0-9_-]{43}$/;
const ADMIN_EMAIL = uniqueEmail('accounts-admin');
const NEW_PASSWORD = 'staple tuning fork lamp river';

const VERIFY = /verif/i;
const RESET = /reset/i;
const CONFIRM_CHANGE = /confirm/i;
const CHANGED_NOTICE = /changed/i;

describe('account lifecycle', () => {
  const mailbox = new TestMailbox();
  let t: TestApp;
  let db: Database;
  /** Every response body and header seen, to check that no link token ever travels in one. */
  const seen: string[] = [];

  beforeAll(async () => {
    await mailbox.start();
    t = await startApp({
      SMTP_URL: mailbox.url,
      MAIL_POLL_INTERVAL: '1s',
      TRUST_PROXY: 'loopback',
      THROTTLE_MAIL_LIMIT: '100000',
      MAIL_ACCOUNT_LIMIT: '100',
      BOOTSTRAP_ADMIN_EMAIL: ADMIN_EMAIL,
      BOOTSTRAP_ADMIN_PASSWORD: PASSWORD,
    });
    db = t.app.get<Database>(DATABASE);
  });
  afterAll(async () => {
    await t.close();
    await mailbox.stop();
  });

  /** A request from an address of its own (the per-IP mail limit is not this suite's subject). */
  const post = (path: string, body: object, headers: Record<string, string> = {}) => {
    const r = t.http().post(path).set('X-Forwarded-For', clientIp()).set(headers).send(body);
    return r.then((response) => {
      seen.push(JSON.stringify(response.body ?? ''), JSON.stringify(response.headers));
      return response;
    });
  };
  const register = async (email = uniqueEmail()) => {
    const response = await post('/auth/register', { email, password: PASSWORD });
    expect(response.status).toBe(201);
    return { email, userId: response.body.id as string };
  };
  const login = async (email: string, password = PASSWORD) => {
    const response = await post('/auth/login', { email, password });
    return {
      status: response.status,
      code: response.body.code as string,
      accessToken: response.body.accessToken as string,
      cookie: refreshCookieOf(response.headers['set-cookie']),
    };
  };
  const me = (accessToken: string) => t.http().get('/users/me').set(bearer(accessToken));
  const mailWithToken = async (address: string, subject: RegExp, count = 1): Promise<ReceivedMail & { token: string }> => {
    const mail = await mailbox.waitFor(address, subject, { count });
    expect(mail.token).toMatch(TOKEN);
    return mail as ReceivedMail & { token: string };
  };
  const events = async (accessToken: string) =>
    (await t.http().get('/auth/activity?limit=100').set(bearer(accessToken)).expect(200)).body.items as {
      type: string;
      outcome: string;
      details: Record<string, unknown>;
    }[];

  describe('verification', () => {
    test('register mails a link to {origin}/demo/verify-email?token=…; using it verifies the address; a second use is link_invalid', async () => {
      const { email } = await register();
      const mail = await mailWithToken(email, VERIFY);
      expect(mail.link).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/demo\/verify-email\?token=[A-Za-z0-9_-]{43}$/);
      const session = await login(email);
      expect((await me(session.accessToken).expect(200)).body).toMatchObject({ email, emailVerified: false });

      const verified = await post('/auth/email/verify', { token: mail.token });
      expect(verified.status).toBe(204);
      expect(verified.headers['cache-control']).toBe('no-store');
      expect((await me(session.accessToken).expect(200)).body).toMatchObject({ email, emailVerified: true });

      const again = await post('/auth/email/verify', { token: mail.token });
      expect({ status: again.status, code: again.body.code }).toEqual({ status: 400, code: 'link_invalid' });
      const types = (await events(session.accessToken)).map((e) => e.type);
      expect(types).toEqual(expect.arrayContaining(['email.verification_sent', 'email.verified']));
    });

    test('a new link (Bearer form) replaces the earlier one, which then is link_invalid', async () => {
      const { email } = await register();
      const first = await mailWithToken(email, VERIFY);
      const session = await login(email);
      const requested = await post('/auth/email/verification', {}, bearer(session.accessToken));
      expect(requested.status).toBe(202);
      const second = await mailWithToken(email, VERIFY, 2);
      expect(second.token).not.toBe(first.token);
      const old = await post('/auth/email/verify', { token: first.token });
      expect({ status: old.status, code: old.body.code }).toEqual({ status: 400, code: 'link_invalid' });
      expect((await post('/auth/email/verify', { token: second.token })).status).toBe(204);
    });

    test('an expired link is link_invalid', async () => {
      const { email, userId } = await register();
      const mail = await mailWithToken(email, VERIFY);
      await db.execute(sql`UPDATE link_tokens SET expires_at = now() - interval '1 second' WHERE user_id = ${userId}`);
      const expired = await post('/auth/email/verify', { token: mail.token });
      expect({ status: expired.status, code: expired.body.code }).toEqual({ status: 400, code: 'link_invalid' });
    });

    test.each([
      ['an unknown well-formed token', 'A'.repeat(43)],
      ['a malformed token', 'not a token'],
      ['an empty token', ''],
    ])('%s is link_invalid', async (_name, token) => {
      const response = await post('/auth/email/verify', { token });
      expect({ status: response.status, code: response.body.code }).toEqual({ status: 400, code: 'link_invalid' });
    });

    test('a password-reset token presented to /auth/email/verify is link_invalid, and still resets the password', async () => {
      const { email } = await register();
      expect((await post('/auth/password/forgot', { email })).status).toBe(202);
      const reset = await mailWithToken(email, RESET);
      const wrongPurpose = await post('/auth/email/verify', { token: reset.token });
      expect({ status: wrongPurpose.status, code: wrongPurpose.body.code }).toEqual({ status: 400, code: 'link_invalid' });
      expect((await post('/auth/password/reset', { token: reset.token, newPassword: NEW_PASSWORD })).status).toBe(204);
    });

    test('public form: 202 alike for unknown, verified and unverified addresses; a mail only for the unverified one', async () => {
      const { email } = await register();
      const first = await mailWithToken(email, VERIFY);
      const unknown = await post('/auth/email/verification', { email: uniqueEmail('nobody') });
      const known = await post('/auth/email/verification', { email: email.toUpperCase() });
      expect([unknown.status, known.status]).toEqual([202, 202]);
      expect(unknown.body).toEqual(known.body);
      const second = await mailWithToken(email, VERIFY, 2);
      expect(second.token).not.toBe(first.token);

      expect((await post('/auth/email/verify', { token: second.token })).status).toBe(204);
      expect((await post('/auth/email/verification', { email })).status).toBe(202);
      // A later mail to a control address arriving proves the queue moved past this request.
      const control = await register();
      await mailWithToken(control.email, VERIFY);
      expect(mailbox.to(email).filter((m) => VERIFY.test(m.subject))).toHaveLength(2);
    });

    test('without a Bearer token `email` is required; a bad Bearer token is 401', async () => {
      const missing = await post('/auth/email/verification', {});
      expect({ status: missing.status, code: missing.body.code }).toEqual({ status: 400, code: 'validation_failed' });
      const badToken = await post('/auth/email/verification', { email: uniqueEmail() }, { Authorization: 'Bearer nonsense' });
      expect(badToken.status).toBe(401);
    });
  });

  describe('forgot and reset password', () => {
    test('forgot: the same 202 for unknown, disabled and real accounts; a mail only for the real, enabled one', async () => {
      const real = await register();
      const disabled = await register();
      await db.execute(sql`UPDATE users SET disabled = true WHERE id = ${disabled.userId}`);
      const unknownEmail = uniqueEmail('nobody');
      const answers = [
        await post('/auth/password/forgot', { email: unknownEmail }),
        await post('/auth/password/forgot', { email: disabled.email }),
        await post('/auth/password/forgot', { email: real.email }),
      ];
      expect(answers.map((a) => a.status)).toEqual([202, 202, 202]);
      expect(answers.map((a) => JSON.stringify(a.body))).toEqual(answers.map(() => JSON.stringify(answers[0].body)));
      const mail = await mailWithToken(real.email, RESET);
      expect(mail.link).toMatch(/\/demo\/reset-password\?token=[A-Za-z0-9_-]{43}$/);
      // The real account's mail was queued after the other two requests were answered: none came for them.
      expect(mailbox.to(unknownEmail)).toHaveLength(0);
      expect(mailbox.to(disabled.email).filter((m) => RESET.test(m.subject))).toHaveLength(0);
    });

    test('the link and mail of a real account are made 1 to 3 s after the 202, not right after it: the work a real address causes does not slow the next request', async () => {
      const { email } = await register();
      await mailWithToken(email, VERIFY);
      for (const path of ['/auth/password/forgot', '/auth/email/verification']) {
        const asked = Date.now();
        expect((await post(path, { email })).status).toBe(202);
        const mail = await mailbox.waitFor(email, path.includes('forgot') ? RESET : VERIFY, { count: path.includes('forgot') ? 1 : 2 });
        expect(mail.receivedAt - asked).toBeGreaterThanOrEqual(1000);
      }
    });

    test('a weak new password is 400 weak_password and leaves the link usable; the reset ends every session', async () => {
      const { email } = await register();
      const phone = await login(email);
      const laptop = await login(email);
      expect((await post('/auth/password/forgot', { email })).status).toBe(202);
      const mail = await mailWithToken(email, RESET);

      const weak = await post('/auth/password/reset', { token: mail.token, newPassword: 'short pass' });
      expect({ status: weak.status, code: weak.body.code }).toEqual({ status: 400, code: 'weak_password' });
      const done = await post('/auth/password/reset', { token: mail.token, newPassword: NEW_PASSWORD });
      expect(done.status).toBe(204);

      expect((await login(email)).status).toBe(401);
      const fresh = await login(email, NEW_PASSWORD);
      expect(fresh.status).toBe(200);
      for (const session of [phone, laptop]) {
        expect((await me(session.accessToken)).status).toBe(401);
        expect((await t.http().post('/auth/refresh').set('Cookie', session.cookie)).status).toBe(401);
      }
      expect((await me(fresh.accessToken).expect(200)).body.emailVerified).toBe(true);
      const again = await post('/auth/password/reset', { token: mail.token, newPassword: 'another fine passphrase' });
      expect({ status: again.status, code: again.body.code }).toEqual({ status: 400, code: 'link_invalid' });
      const list = await events(fresh.accessToken);
      expect(list.map((e) => e.type)).toEqual(expect.arrayContaining(['password.reset_requested', 'password.reset']));
      expect(list).toEqual(
        expect.arrayContaining([
          expect.objectContaining({ type: 'sessions.revoked_all', details: expect.objectContaining({ reason: 'password_reset' }) }),
        ]),
      );
    });

    test('only the newest of two reset links works', async () => {
      const { email } = await register();
      await post('/auth/password/forgot', { email });
      const first = await mailWithToken(email, RESET);
      await post('/auth/password/forgot', { email });
      const second = await mailWithToken(email, RESET, 2);
      const old = await post('/auth/password/reset', { token: first.token, newPassword: NEW_PASSWORD });
      expect({ status: old.status, code: old.body.code }).toEqual({ status: 400, code: 'link_invalid' });
      expect((await post('/auth/password/reset', { token: second.token, newPassword: NEW_PASSWORD })).status).toBe(204);
    });

    test('a reset link of an account disabled meanwhile is link_invalid', async () => {
      const { email, userId } = await register();
      await post('/auth/password/forgot', { email });
      const mail = await mailWithToken(email, RESET);
      await db.execute(sql`UPDATE users SET disabled = true WHERE id = ${userId}`);
      const refused = await post('/auth/password/reset', { token: mail.token, newPassword: NEW_PASSWORD });
      expect({ status: refused.status, code: refused.body.code }).toEqual({ status: 400, code: 'link_invalid' });
    });
  });

  describe('email change', () => {
    test('wrong current password is 400 naming currentPassword; the current or a taken address is refused', async () => {
      const { email } = await register();
      const other = await register();
      const session = await login(email);
      const auth = bearer(session.accessToken);
      const wrong = await post('/auth/email/change', { newEmail: uniqueEmail(), currentPassword: 'not the password' }, auth);
      expect({ status: wrong.status, code: wrong.body.code, field: wrong.body.errors?.[0]?.field }).toEqual({
        status: 400,
        code: 'validation_failed',
        field: 'currentPassword',
      });
      const same = await post('/auth/email/change', { newEmail: email.toUpperCase(), currentPassword: PASSWORD }, auth);
      expect({ status: same.status, code: same.body.code }).toEqual({ status: 400, code: 'validation_failed' });
      const taken = await post('/auth/email/change', { newEmail: other.email, currentPassword: PASSWORD }, auth);
      expect({ status: taken.status, code: taken.body.code }).toEqual({ status: 409, code: 'email_taken' });
      expect(await events(session.accessToken)).toEqual(
        expect.arrayContaining([expect.objectContaining({ type: 'email.changed', outcome: 'failure' })]),
      );
    });

    test('confirm link to the new address, notice to the old; after the link the new address logs in and the old does not', async () => {
      const { email } = await register();
      const verifyOld = await mailWithToken(email, VERIFY);
      const session = await login(email);
      const newEmail = uniqueEmail('moved');
      const requested = await post(
        '/auth/email/change',
        { newEmail: ` ${newEmail.toUpperCase()} `, currentPassword: PASSWORD },
        bearer(session.accessToken),
      );
      expect(requested.status).toBe(202);
      const confirm = await mailWithToken(newEmail, CONFIRM_CHANGE);
      expect(confirm.link).toMatch(/\/demo\/verify-email\?token=/);
      const notice = await mailbox.waitFor(email, CHANGED_NOTICE);
      expect(notice.token).toBeUndefined();
      // Nothing changed yet.
      expect((await login(email)).status).toBe(200);

      expect((await post('/auth/email/verify', { token: confirm.token })).status).toBe(204);
      expect((await login(email)).status).toBe(401);
      const moved = await login(newEmail);
      expect(moved.status).toBe(200);
      expect((await me(moved.accessToken).expect(200)).body).toMatchObject({ email: newEmail, emailVerified: true });
      // The old address's verification link died with the change.
      const stale = await post('/auth/email/verify', { token: verifyOld.token });
      expect({ status: stale.status, code: stale.body.code }).toEqual({ status: 400, code: 'link_invalid' });
      const stages = (await events(moved.accessToken))
        .filter((e) => e.type === 'email.changed' && e.outcome === 'success')
        .map((e) => e.details.stage);
      expect(stages).toEqual(expect.arrayContaining(['requested', 'completed']));
    });

    test.each([
      ['a password change', 'password'],
      ['logging out everywhere', 'logout-all'],
      ["an admin's force logout", 'admin-logout'],
      ['an admin disabling the account', 'admin-disable'],
    ])('a pending change (and reset link) dies with %s: what ends every session ends the changes asked for in them', async (_what, how) => {
      // Someone who knew the password for a moment asks to move the account to their own address…
      const { email, userId } = await register();
      const session = await login(email);
      const attacker = uniqueEmail('attacker');
      expect(
        (await post('/auth/email/change', { newEmail: attacker, currentPassword: PASSWORD }, bearer(session.accessToken))).status,
      ).toBe(202);
      const confirm = await mailWithToken(attacker, CONFIRM_CHANGE);
      expect((await post('/auth/password/forgot', { email })).status).toBe(202);
      const reset = await mailWithToken(email, RESET);
      // …and the owner secures the account.
      if (how === 'password') {
        expect(
          (await post('/auth/password', { currentPassword: PASSWORD, newPassword: NEW_PASSWORD }, bearer(session.accessToken))).status,
        ).toBe(204);
      } else if (how === 'logout-all') {
        expect((await post('/auth/logout-all-devices', {}, bearer(session.accessToken))).status).toBe(204);
      } else {
        const admin = await login(ADMIN_EMAIL);
        const response =
          how === 'admin-logout'
            ? await t.http().delete(`/admin/users/${userId}/sessions`).set(bearer(admin.accessToken))
            : await t.http().patch(`/admin/users/${userId}`).set(bearer(admin.accessToken)).send({ disabled: true });
        expect(response.status).toBeLessThan(300);
      }
      const late = await post('/auth/email/verify', { token: confirm.token });
      expect({ status: late.status, code: late.body.code }).toEqual({ status: 400, code: 'link_invalid' });
      const lateReset = await post('/auth/password/reset', { token: reset.token, newPassword: 'another fine passphrase here' });
      expect({ status: lateReset.status, code: lateReset.body.code }).toEqual({ status: 400, code: 'link_invalid' });
      expect((await login(attacker)).status).toBe(401);
    });

    test('an address taken meanwhile is 409 email_taken at confirmation, and the link is not used up', async () => {
      const { email } = await register();
      const session = await login(email);
      const newEmail = uniqueEmail('contested');
      expect((await post('/auth/email/change', { newEmail, currentPassword: PASSWORD }, bearer(session.accessToken))).status).toBe(202);
      const confirm = await mailWithToken(newEmail, CONFIRM_CHANGE);
      const squatter = await register(newEmail);
      const conflict = await post('/auth/email/verify', { token: confirm.token });
      expect({ status: conflict.status, code: conflict.body.code }).toEqual({ status: 409, code: 'email_taken' });
      expect((await login(email)).status).toBe(200);
      // Once the address is free again, the same link completes the change.
      await db.execute(sql`DELETE FROM users WHERE id = ${squatter.userId}`);
      expect((await post('/auth/email/verify', { token: confirm.token })).status).toBe(204);
      expect((await login(newEmail)).status).toBe(200);
    });
  });

  describe('where tokens rest', () => {
    test('the database holds only hashes of link tokens; no response carried one; Redis holds none (when used)', async () => {
      const { email, userId } = await register();
      const verify = await mailWithToken(email, VERIFY);
      await post('/auth/password/forgot', { email });
      const reset = await mailWithToken(email, RESET);
      const rows = await db.select({ tokenHash: linkTokens.tokenHash }).from(linkTokens).where(eq(linkTokens.userId, userId));
      const hashes = rows.map((r) => r.tokenHash);
      expect(hashes).toHaveLength(2);
      for (const token of [verify.token, reset.token]) {
        expect(hashes).not.toContain(token);
        expect(seen.some((text) => text.includes(token))).toBe(false);
      }
      if (!process.env.REDIS_URL) return;
      const redis = createClient({ url: process.env.REDIS_URL });
      await redis.connect();
      try {
        for await (const keys of redis.scanIterator({ COUNT: 1000 })) {
          for (const key of keys) {
            expect(key.includes(verify.token) || key.includes(reset.token) || key.includes(email)).toBe(false);
            if ((await redis.type(key)) !== 'string') continue;
            const value = (await redis.get(key)) ?? '';
            expect(value.includes(verify.token) || value.includes(reset.token) || value.includes(email)).toBe(false);
          }
        }
      } finally {
        await redis.quit();
      }
    });
  });
});

describe('account lifecycle: limits, APP_URL and REQUIRE_VERIFIED_EMAIL', () => {
  const mailbox = new TestMailbox();
  let t: TestApp;
  const ACCOUNT_LIMIT = 2;

  beforeAll(async () => {
    await mailbox.start();
    t = await startApp({
      SMTP_URL: mailbox.url,
      MAIL_POLL_INTERVAL: '1s',
      TRUST_PROXY: 'loopback',
      THROTTLE_MAIL_LIMIT: '3',
      MAIL_ACCOUNT_LIMIT: String(ACCOUNT_LIMIT),
      APP_URL: 'https://app.example.com/',
      REQUIRE_VERIFIED_EMAIL: 'true',
    });
  });
  afterAll(async () => {
    await t.close();
    await mailbox.stop();
  });

  const register = async (email = uniqueEmail()) => {
    await t.http().post('/auth/register').set('X-Forwarded-For', clientIp()).send({ email, password: PASSWORD }).expect(201);
    return email;
  };

  test('THROTTLE_MAIL_LIMIT per IP: the 4th forgot-password request is 429 rate_limited; another IP is unaffected', async () => {
    const ip = clientIp();
    const forgot = (from: string) => t.http().post('/auth/password/forgot').set('X-Forwarded-For', from).send({ email: uniqueEmail() });
    for (let i = 0; i < 3; i++) expect((await forgot(ip)).status).toBe(202);
    const limited = await forgot(ip);
    expect({ status: limited.status, code: limited.body.code }).toEqual({ status: 429, code: 'rate_limited' });
    expect(Number(limited.headers['retry-after'])).toBeGreaterThan(0);
    expect((await forgot(clientIp())).status).toBe(202);
    // The verification route shares the limit's kind (its own count per IP).
    const verifyIp = clientIp();
    const ask = () => t.http().post('/auth/email/verification').set('X-Forwarded-For', verifyIp).send({ email: uniqueEmail() });
    for (let i = 0; i < 3; i++) expect((await ask()).status).toBe(202);
    expect((await ask()).status).toBe(429);
  });

  test('MAIL_ACCOUNT_LIMIT per address: beyond it the answer is still 202 and no mail is sent; links point to APP_URL', async () => {
    const email = uniqueEmail();
    await register(email);
    const answers = [];
    for (let i = 0; i < 5; i++) {
      answers.push((await t.http().post('/auth/password/forgot').set('X-Forwarded-For', clientIp()).send({ email })).status);
    }
    expect(answers).toEqual([202, 202, 202, 202, 202]);
    const mail = await mailbox.waitFor(email, RESET, { count: ACCOUNT_LIMIT });
    expect(mail.link).toMatch(/^https:\/\/app\.example\.com\/reset-password\?token=[A-Za-z0-9_-]{43}$/);
    // A control mail sent after the burst arriving shows the queue moved past it.
    const control = uniqueEmail('control');
    await register(control);
    await t.http().post('/auth/password/forgot').set('X-Forwarded-For', clientIp()).send({ email: control }).expect(202);
    await mailbox.waitFor(control, RESET);
    await sleep(200);
    expect(mailbox.to(email).filter((m) => RESET.test(m.subject))).toHaveLength(ACCOUNT_LIMIT);
  });

  test('MAIL_ACCOUNT_LIMIT also caps email-change confirmations to one address, across accounts: 429 beyond it, no mail', async () => {
    const target = uniqueEmail('no-account');
    const statuses: number[] = [];
    for (let i = 0; i < ACCOUNT_LIMIT + 2; i++) {
      const email = await register();
      const verify = await mailbox.waitFor(email, VERIFY);
      await t.http().post('/auth/email/verify').send({ token: verify.token }).expect(204);
      const session = await t.http().post('/auth/login').set('X-Forwarded-For', clientIp()).send({ email, password: PASSWORD }).expect(200);
      const change = await t
        .http()
        .post('/auth/email/change')
        .set('X-Forwarded-For', clientIp())
        .set(bearer(session.body.accessToken as string))
        .send({ newEmail: target, currentPassword: PASSWORD });
      statuses.push(change.status);
    }
    expect(statuses).toEqual([...Array<number>(ACCOUNT_LIMIT).fill(202), 429, 429]);
    await mailbox.waitFor(target, CONFIRM_CHANGE, { count: ACCOUNT_LIMIT });
    await sleep(500);
    expect(mailbox.to(target)).toHaveLength(ACCOUNT_LIMIT);
  });

  test('REQUIRE_VERIFIED_EMAIL: the right password of an unverified account is 403 email_unverified, a wrong one 401; 200 once verified', async () => {
    const email = await register();
    const verify = await mailbox.waitFor(email, VERIFY);
    expect(verify.link).toMatch(/^https:\/\/app\.example\.com\/verify-email\?token=/);
    const right = await t.http().post('/auth/login').set('X-Forwarded-For', clientIp()).send({ email, password: PASSWORD });
    expect({ status: right.status, code: right.body.code }).toEqual({ status: 403, code: 'email_unverified' });
    const wrong = await t.http().post('/auth/login').set('X-Forwarded-For', clientIp()).send({ email, password: 'not the password' });
    expect({ status: wrong.status, code: wrong.body.code }).toEqual({ status: 401, code: 'invalid_credentials' });
    await t.http().post('/auth/email/verify').send({ token: verify.token }).expect(204);
    await t.http().post('/auth/login').set('X-Forwarded-For', clientIp()).send({ email, password: PASSWORD }).expect(200);
  });
});
