import { afterAll, beforeAll, describe, expect, test } from '@jest/globals';
import { bearer, PASSWORD, registerAndLogin, startApp, type TestApp, uniqueEmail } from '../support/app.js';
import { freshDatabase } from '../support/services.js';

/*
 * "No enabled admin would be left" is a statement about the whole users table, so this suite has a
 * database of its own (a new PostgreSQL database next to DATABASE_URL's, or its own PGlite).
 */
describe('the last enabled admin cannot demote or disable themselves', () => {
  let t: TestApp;
  let database: Awaited<ReturnType<typeof freshDatabase>>;
  const adminEmail = uniqueEmail('admin');
  let admin: { id: string; token: string };

  beforeAll(async () => {
    database = await freshDatabase();
    t = await startApp({ DATABASE_URL: database.url, BOOTSTRAP_ADMIN_EMAIL: adminEmail, BOOTSTRAP_ADMIN_PASSWORD: PASSWORD });
    const token = (await t.http().post('/auth/login').send({ email: adminEmail, password: PASSWORD }).expect(200)).body.accessToken;
    const me = await t.http().get('/users/me').set(bearer(token)).expect(200);
    admin = { id: me.body.id, token };
  });
  afterAll(async () => {
    await t?.close();
    await database?.drop();
  });

  test('dropping its own admin role is 409 last_admin, and it stays admin', async () => {
    const response = await t
      .http()
      .patch(`/admin/users/${admin.id}`)
      .set(bearer(admin.token))
      .send({ roles: ['user'] });
    expect({ status: response.status, code: response.body.code, type: response.headers['content-type'] }).toEqual({
      status: 409,
      code: 'last_admin',
      type: expect.stringMatching(/^application\/problem\+json/),
    });
    const after = await t.http().get(`/admin/users/${admin.id}`).set(bearer(admin.token)).expect(200);
    expect(after.body).toMatchObject({ roles: expect.arrayContaining(['admin']), disabled: false });
  });

  test('disabling itself is 409 last_admin, and its session keeps working', async () => {
    const response = await t.http().patch(`/admin/users/${admin.id}`).set(bearer(admin.token)).send({ disabled: true });
    expect({ status: response.status, code: response.body.code }).toEqual({ status: 409, code: 'last_admin' });
    const after = await t.http().get(`/admin/users/${admin.id}`).set(bearer(admin.token)).expect(200);
    expect(after.body.disabled).toBe(false);
  });

  test('a disabled admin does not count: promoting a disabled user does not free the last one', async () => {
    const other = await registerAndLogin(t);
    await t
      .http()
      .patch(`/admin/users/${other.userId}`)
      .set(bearer(admin.token))
      .send({ roles: ['user', 'admin'], disabled: true })
      .expect(200);
    const response = await t
      .http()
      .patch(`/admin/users/${admin.id}`)
      .set(bearer(admin.token))
      .send({ roles: ['user'] });
    expect({ status: response.status, code: response.body.code }).toEqual({ status: 409, code: 'last_admin' });
  });

  let survivor: { id: string; token: string };

  test('with a second enabled admin, the first may drop its role (and then the second is the last)', async () => {
    const second = await registerAndLogin(t);
    await t
      .http()
      .patch(`/admin/users/${second.userId}`)
      .set(bearer(admin.token))
      .send({ roles: ['user', 'admin'] })
      .expect(200);
    const dropped = await t
      .http()
      .patch(`/admin/users/${admin.id}`)
      .set(bearer(admin.token))
      .send({ roles: ['user'] })
      .expect(200);
    expect(dropped.body.roles).toEqual(['user']);
    const last = await t.http().patch(`/admin/users/${second.userId}`).set(bearer(second.accessToken)).send({ disabled: true });
    expect({ status: last.status, code: last.body.code }).toEqual({ status: 409, code: 'last_admin' });
    survivor = { id: second.userId, token: second.accessToken };
  });

  test('two last admins demoting each other at once: exactly one succeeds', async () => {
    const a = await registerAndLogin(t);
    const b = await registerAndLogin(t);
    for (const id of [a.userId, b.userId]) {
      await t
        .http()
        .patch(`/admin/users/${id}`)
        .set(bearer(survivor.token))
        .send({ roles: ['user', 'admin'] })
        .expect(200);
    }
    await t
      .http()
      .patch(`/admin/users/${survivor.id}`)
      .set(bearer(survivor.token))
      .send({ roles: ['user'] })
      .expect(200);
    for (let round = 0; round < 3; round++) {
      const [first, second] = await Promise.all([
        t.http().patch(`/admin/users/${b.userId}`).set(bearer(a.accessToken)).send({ disabled: true }),
        t.http().patch(`/admin/users/${a.userId}`).set(bearer(b.accessToken)).send({ disabled: true }),
      ]);
      // 401/403: the loser may also have been disabled before its own request was authorised.
      const statuses = [first.status, second.status].sort();
      expect(statuses[0]).toBe(200);
      expect([401, 403, 409]).toContain(statuses[1]);
      // Exactly one enabled admin is left; bring the other back for the next round.
      const winner = first.status === 200 ? a : b;
      const loser = winner === a ? b : a;
      const restored = await t
        .http()
        .patch(`/admin/users/${loser.userId}`)
        .set(bearer(winner.accessToken))
        .send({ disabled: false })
        .expect(200);
      expect(restored.body).toMatchObject({ disabled: false, roles: expect.arrayContaining(['admin']) });
      loser.accessToken = (
        await t.http().post('/auth/login').send({ email: loser.email, password: PASSWORD }).expect(200)
      ).body.accessToken;
    }
  });
});
