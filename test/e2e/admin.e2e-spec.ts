import { afterAll, beforeAll, describe, expect, test } from '@jest/globals';
import { randomUUID } from 'node:crypto';
import { bearer, PASSWORD, registerAndLogin, startApp, type TestApp, uniqueEmail } from '../support/app.js';

describe('admin routes and the bootstrap admin', () => {
  let t: TestApp;
  const adminEmail = uniqueEmail('admin');
  let adminToken: string;

  beforeAll(async () => {
    t = await startApp({ BOOTSTRAP_ADMIN_EMAIL: adminEmail, BOOTSTRAP_ADMIN_PASSWORD: PASSWORD });
    const login = await t.http().post('/auth/login').send({ email: adminEmail, password: PASSWORD }).expect(200);
    adminToken = login.body.accessToken;
  });
  afterAll(async () => {
    await t.close();
  });

  test('the bootstrap admin exists with the admin role', async () => {
    const me = await t.http().get('/users/me').set(bearer(adminToken)).expect(200);
    expect(me.body.roles).toEqual(expect.arrayContaining(['admin']));
  });

  test('GET /admin/users/:id returns {id, email, roles, disabled}', async () => {
    const user = await registerAndLogin(t);
    const response = await t.http().get(`/admin/users/${user.userId}`).set(bearer(adminToken)).expect(200);
    expect(response.body).toEqual({ id: user.userId, email: user.email, roles: ['user'], emailVerified: false, disabled: false });
  });

  test('non-admins get 403 forbidden on every admin route', async () => {
    const user = await registerAndLogin(t);
    const responses = await Promise.all([
      t.http().get(`/admin/users/${user.userId}`).set(bearer(user.accessToken)),
      t
        .http()
        .patch(`/admin/users/${user.userId}`)
        .set(bearer(user.accessToken))
        .send({ roles: ['admin'] }),
      t.http().delete(`/admin/users/${user.userId}/sessions`).set(bearer(user.accessToken)),
    ]);
    for (const response of responses) {
      expect(response.status).toBe(403);
      expect(response.body.code).toBe('forbidden');
    }
    const unchanged = await t.http().get(`/admin/users/${user.userId}`).set(bearer(adminToken)).expect(200);
    expect(unchanged.body.roles).toEqual(['user']);
  });

  test('unknown ids are 404 and malformed ids 400', async () => {
    const unknown = await t.http().get(`/admin/users/${randomUUID()}`).set(bearer(adminToken)).expect(404);
    expect(unknown.body.code).toBe('not_found');
    const malformed = await t.http().get('/admin/users/not-a-uuid').set(bearer(adminToken)).expect(400);
    expect(malformed.body.code).toBe('validation_failed');
    await t.http().delete(`/admin/users/${randomUUID()}/sessions`).set(bearer(adminToken)).expect(404);
  });

  test('PATCH validates its body', async () => {
    const user = await registerAndLogin(t);
    const bad = await t.http().patch(`/admin/users/${user.userId}`).set(bearer(adminToken)).send({ disabled: 'yes' }).expect(400);
    expect(bad.body.errors[0].field).toBe('disabled');
    await t.http().patch(`/admin/users/${user.userId}`).set(bearer(adminToken)).send({ email: 'x@y.z' }).expect(400);
    await t
      .http()
      .patch(`/admin/users/${user.userId}`)
      .set(bearer(adminToken))
      .send({ roles: ['Not A Role'] })
      .expect(400);
    // null is not "leave unchanged": it is refused (it was a NOT NULL violation or a TypeError, a 500).
    for (const body of [{ disabled: null }, { roles: null }]) {
      const res = await t.http().patch(`/admin/users/${user.userId}`).set(bearer(adminToken)).send(body);
      expect({ body, status: res.status, code: res.body.code }).toEqual({ body, status: 400, code: 'validation_failed' });
    }
  });

  test('disabling a user ends their sessions at once and refuses login while disabled', async () => {
    const user = await registerAndLogin(t);
    const patched = await t.http().patch(`/admin/users/${user.userId}`).set(bearer(adminToken)).send({ disabled: true }).expect(200);
    expect(patched.body.disabled).toBe(true);
    const refused = await t.http().get('/users/me').set(bearer(user.accessToken)).expect(401);
    expect(refused.body.code).toBe('session_revoked');
    const login = await t.http().post('/auth/login').send({ email: user.email, password: PASSWORD }).expect(401);
    expect(login.body.code).toBe('invalid_credentials');
    // Exactly what an unknown email gets: a disabled account is not revealed.
    const unknown = await t.http().post('/auth/login').send({ email: uniqueEmail(), password: PASSWORD }).expect(401);
    expect({ ...login.body, instance: undefined }).toEqual({ ...unknown.body, instance: undefined });
    // Its refresh token is dead too.
    await t.http().post('/auth/refresh').set('Cookie', user.cookie).expect(401);
    await t.http().patch(`/admin/users/${user.userId}`).set(bearer(adminToken)).send({ disabled: false }).expect(200);
    await t.http().post('/auth/login').send({ email: user.email, password: PASSWORD }).expect(200);
  });

  test('granting and removing a role takes effect on the next request, token unchanged', async () => {
    const user = await registerAndLogin(t);
    const target = await registerAndLogin(t);
    await t.http().get(`/admin/users/${target.userId}`).set(bearer(user.accessToken)).expect(403);
    await t
      .http()
      .patch(`/admin/users/${user.userId}`)
      .set(bearer(adminToken))
      .send({ roles: ['user', 'admin'] })
      .expect(200);
    await t.http().get(`/admin/users/${target.userId}`).set(bearer(user.accessToken)).expect(200);
    await t
      .http()
      .patch(`/admin/users/${user.userId}`)
      .set(bearer(adminToken))
      .send({ roles: ['user'] })
      .expect(200);
    await t.http().get(`/admin/users/${target.userId}`).set(bearer(user.accessToken)).expect(403);
  });

  test('DELETE /admin/users/:id/sessions logs the user out everywhere', async () => {
    const user = await registerAndLogin(t);
    const second = await t.http().post('/auth/login').send({ email: user.email, password: PASSWORD }).expect(200);
    await t.http().delete(`/admin/users/${user.userId}/sessions`).set(bearer(adminToken)).expect(204);
    await t.http().get('/users/me').set(bearer(user.accessToken)).expect(401);
    await t.http().get('/users/me').set(bearer(second.body.accessToken)).expect(401);
    await t.http().get('/users/me').set(bearer(adminToken)).expect(200);
  });
});
