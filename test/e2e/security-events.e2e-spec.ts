import { afterAll, beforeAll, describe, expect, test } from '@jest/globals';
import { randomUUID } from 'node:crypto';
import { EventEmitter2 } from '@nestjs/event-emitter';
import { SecurityEventsRepository } from '../../src/audit/security-events.repository.js';
import { PENDING_KEY, SecurityEventsService } from '../../src/audit/security-events.service.js';
import { REDIS } from '../../src/redis/redis.module.js';
import type { RedisService } from '../../src/redis/redis.service.js';
import { bearer, PASSWORD, refreshCookieOf, registerAndLogin, startApp, type TestApp, uniqueEmail } from '../support/app.js';
import { CuttableProxy, sleep } from '../support/services.js';

interface EventJson {
  id: string;
  time: string;
  type: string;
  userId: string | null;
  actorId: string | null;
  ip: string | null;
  userAgent: string | null;
  sessionId: string | null;
  outcome: 'success' | 'failure';
  details: Record<string, unknown>;
}

/** Polls until `check` passes, or fails after `ms`. */
async function eventually(ms: number, check: () => Promise<boolean>): Promise<void> {
  const started = Date.now();
  while (!(await check())) {
    if (Date.now() - started > ms) throw new Error(`not within ${ms} ms`);
    await sleep(100);
  }
}

/** Every event matching `query`, page by page (checks each page's shape on the way). */
async function allEvents(t: TestApp, token: string, query: Record<string, string>, path = '/admin/audit-events'): Promise<EventJson[]> {
  const items: EventJson[] = [];
  let cursor: string | null = null;
  for (let page = 0; page < 100; page++) {
    const response: { status: number; headers: Record<string, string>; body: { items: EventJson[]; nextCursor: string | null } } = await t
      .http()
      .get(path)
      .query({ ...query, ...(cursor ? { cursor } : {}) })
      .set(bearer(token));
    expect(response.status).toBe(200);
    expect(response.headers['cache-control']).toBe('no-store');
    items.push(...response.body.items);
    cursor = response.body.nextCursor;
    if (cursor === null) return items;
  }
  throw new Error('more than 100 pages');
}

const NEW_PASSWORD = 'a brand new password 42';
const AGENT = `security-events-test/${randomUUID()}`;

describe('security events: recorded, listed for admins and for the user, never with secrets', () => {
  let t: TestApp;
  const adminEmail = uniqueEmail('admin');
  let adminId: string;
  let adminToken: string;
  const secrets: string[] = [PASSWORD, NEW_PASSWORD];
  const heard: { name: string; type: string }[] = [];
  const startedAt = new Date().toISOString();

  beforeAll(async () => {
    t = await startApp({
      BOOTSTRAP_ADMIN_EMAIL: adminEmail,
      BOOTSTRAP_ADMIN_PASSWORD: PASSWORD,
      REFRESH_REUSE_GRACE_SECONDS: '0',
      MAX_SESSIONS_PER_USER: '3',
    });
    // What a team's `@OnEvent('security.**')` listener would hear.
    t.app.get(EventEmitter2).on('security.**', function (this: { event: string }, event: { type: string }) {
      heard.push({ name: this.event, type: event.type });
    });
    const login = await t.http().post('/auth/login').set('User-Agent', AGENT).send({ email: adminEmail, password: PASSWORD }).expect(200);
    adminToken = login.body.accessToken;
    secrets.push(adminToken, refreshCookieOf(login.headers['set-cookie']).split('=')[1]);
    adminId = (await t.http().get('/users/me').set(bearer(adminToken)).expect(200)).body.id;
  });
  afterAll(async () => {
    await t.close();
  });

  const eventsOf = (userId: string, type?: string) => allEvents(t, adminToken, { userId, ...(type ? { type } : {}) });
  const login = (email: string, password = PASSWORD) => t.http().post('/auth/login').set('User-Agent', AGENT).send({ email, password });
  async function user() {
    const u = await registerAndLogin(t, { userAgent: AGENT });
    secrets.push(u.accessToken, u.cookie.split('=')[1]);
    return u;
  }

  test('bootstrap.admin: the creation of the bootstrap admin', async () => {
    const [created] = await eventsOf(adminId, 'bootstrap.admin');
    expect(created).toMatchObject({ type: 'bootstrap.admin', userId: adminId, outcome: 'success', details: { created: true } });
  });

  test('login.succeeded and login.failed (wrong password, unknown account, disabled), with ip and user agent', async () => {
    const u = await user();
    await login(u.email, 'not the password at all').expect(401);
    const unknownEmail = uniqueEmail('nobody');
    await login(unknownEmail).expect(401);

    const events = await eventsOf(u.userId);
    const succeeded = events.find((e) => e.type === 'login.succeeded');
    expect(succeeded).toMatchObject({
      userId: u.userId,
      sessionId: u.sessionId,
      outcome: 'success',
      userAgent: AGENT,
      ip: expect.any(String),
    });
    expect(succeeded!.ip).not.toBe('');
    expect(events.find((e) => e.type === 'login.failed')).toMatchObject({
      outcome: 'failure',
      details: { reason: 'wrong_password' },
      userAgent: AGENT,
    });

    const failed = await allEvents(t, adminToken, { type: 'login.failed', since: startedAt });
    const unknown = failed.filter((e) => e.userId === null && e.userAgent === AGENT);
    expect(unknown.map((e) => e.details.reason)).toContain('unknown_account');
    // The attempted address is not recorded (it may be a password typed into the wrong field).
    expect(JSON.stringify(failed)).not.toContain(unknownEmail);

    await t.http().patch(`/admin/users/${u.userId}`).set(bearer(adminToken)).send({ disabled: true }).expect(200);
    await login(u.email).expect(401);
    expect((await eventsOf(u.userId, 'login.failed')).map((e) => e.details.reason)).toContain('disabled');
  });

  test('the Nest event security.<type> is emitted for each event', async () => {
    await login(uniqueEmail(), PASSWORD).expect(401);
    expect(heard).toEqual(expect.arrayContaining([{ name: 'security.login.failed', type: 'login.failed' }]));
    expect(heard.every((h) => h.name === `security.${h.type}`)).toBe(true);
  });

  test('refresh.reused: an old refresh token after rotation, with the session id', async () => {
    const u = await user();
    const rotated = await t.http().post('/auth/refresh').set('Cookie', u.cookie).expect(200);
    secrets.push(refreshCookieOf(rotated.headers['set-cookie']).split('=')[1], rotated.body.accessToken);
    await t.http().post('/auth/refresh').set('Cookie', u.cookie).expect(401);
    const [reused] = await eventsOf(u.userId, 'refresh.reused');
    expect(reused).toMatchObject({ userId: u.userId, sessionId: u.sessionId, outcome: 'failure' });
  });

  test('session.revoked: logout, DELETE /auth/sessions/:id, and the session cap', async () => {
    const u = await user();
    const second = await login(u.email).expect(200);
    const third = await login(u.email).expect(200);
    secrets.push(second.body.accessToken, third.body.accessToken);
    await t.http().delete(`/auth/sessions/${second.body.sessionId}`).set(bearer(u.accessToken)).expect(204);
    await t.http().post('/auth/logout').set(bearer(third.body.accessToken)).expect(204);
    // Three is the cap: the fourth and fifth logins end the least recently used sessions.
    const more = [await login(u.email).expect(200), await login(u.email).expect(200), await login(u.email).expect(200)];
    secrets.push(...more.map((m) => m.body.accessToken as string));

    const revoked = await eventsOf(u.userId, 'session.revoked');
    const reasons = revoked.map((e) => [e.sessionId, e.details.reason]);
    expect(reasons).toEqual(
      expect.arrayContaining([
        [second.body.sessionId, 'user'],
        [third.body.sessionId, 'logout'],
        [u.sessionId, 'cap'],
      ]),
    );
    await t.http().get('/users/me').set(bearer(u.accessToken)).expect(401);
  });

  test('sessions.revoked_all, password.changed and user.updated (with the admin as actor)', async () => {
    const u = await user();
    await t
      .http()
      .post('/auth/password')
      .set(bearer(u.accessToken))
      .send({ currentPassword: PASSWORD, newPassword: NEW_PASSWORD })
      .expect(204);
    await t.http().post('/auth/logout-all-devices').set(bearer(u.accessToken)).expect(204);
    await t.http().delete(`/admin/users/${u.userId}/sessions`).set(bearer(adminToken)).expect(204);
    await t
      .http()
      .patch(`/admin/users/${u.userId}`)
      .set(bearer(adminToken))
      .send({ roles: ['user', 'auditor'] })
      .expect(200);

    const events = await eventsOf(u.userId);
    expect(events.find((e) => e.type === 'password.changed')).toMatchObject({ outcome: 'success', sessionId: u.sessionId, actorId: null });
    const all = events.filter((e) => e.type === 'sessions.revoked_all').map((e) => [e.details.reason, e.actorId]);
    expect(all).toEqual(
      expect.arrayContaining([
        ['password_changed', null],
        ['logout_all', null],
        ['admin', adminId],
      ]),
    );
    expect(events.find((e) => e.type === 'user.updated')).toMatchObject({
      actorId: adminId,
      details: { roles: ['user', 'auditor'] },
      outcome: 'success',
    });
  });

  test('filters, newest first, and pagination across pages that adds up to the whole', async () => {
    const u = await user();
    for (let i = 0; i < 4; i++) await login(u.email, 'wrong password number').expect(401);
    const whole = await t.http().get('/admin/audit-events').query({ userId: u.userId, limit: '100' }).set(bearer(adminToken)).expect(200);
    expect(whole.body.nextCursor).toBeNull();
    const everything = whole.body.items as EventJson[];
    expect(everything.length).toBeGreaterThanOrEqual(5);
    expect(everything.every((e) => e.userId === u.userId)).toBe(true);
    const times = everything.map((e) => Date.parse(e.time));
    expect(times).toEqual([...times].sort((a, b) => b - a));

    const first = await t.http().get('/admin/audit-events').query({ userId: u.userId, limit: '2' }).set(bearer(adminToken)).expect(200);
    expect(first.body.items).toHaveLength(2);
    expect(first.body.nextCursor).toEqual(expect.stringMatching(/^[A-Za-z0-9_-]+$/));
    const paged = await allEvents(t, adminToken, { userId: u.userId, limit: '2' });
    expect(paged.map((e) => e.id)).toEqual(everything.map((e) => e.id));

    const failed = await eventsOf(u.userId, 'login.failed');
    expect(failed).toHaveLength(4);
    expect(failed.every((e) => e.type === 'login.failed')).toBe(true);

    const middle = everything[Math.floor(everything.length / 2)].time;
    const since = await allEvents(t, adminToken, { userId: u.userId, since: middle });
    const until = await allEvents(t, adminToken, { userId: u.userId, until: middle });
    expect(since.every((e) => e.time >= middle) && until.every((e) => e.time < middle)).toBe(true);
    expect(since.length + until.length).toBe(everything.length);
  });

  test('non-admins get 403; bad filters get 400 validation_failed problem details', async () => {
    const u = await user();
    const forbidden = await t.http().get('/admin/audit-events').set(bearer(u.accessToken));
    expect({ status: forbidden.status, code: forbidden.body.code }).toEqual({ status: 403, code: 'forbidden' });

    const bad: [Record<string, string>, string][] = [
      [{ userId: 'not-a-uuid' }, 'userId'],
      [{ type: "login'; DROP TABLE users" }, 'type'],
      [{ since: 'yesterday' }, 'since'],
      [{ since: '2026-11-01' }, 'since'],
      [{ until: '2026-13-40T00:00:00Z' }, 'until'],
      [{ limit: '0' }, 'limit'],
      [{ limit: '101' }, 'limit'],
      [{ limit: 'ten' }, 'limit'],
      [{ cursor: 'bm90LWEtY3Vyc29y' }, 'cursor'],
      [{ cursor: '!!!' }, 'cursor'],
      [{ sort: 'asc' }, 'sort'],
    ];
    for (const [query, field] of bad) {
      const response = await t.http().get('/admin/audit-events').query(query).set(bearer(adminToken));
      expect({ query, status: response.status, code: response.body.code, field: response.body.errors?.[0]?.field }).toEqual({
        query,
        status: 400,
        code: 'validation_failed',
        field,
      });
      expect(response.headers['content-type']).toMatch(/^application\/problem\+json/);
    }
    const repeated = await t.http().get('/admin/audit-events?type=a&type=b').set(bearer(adminToken));
    expect(repeated.status).toBe(400);
    const activity = await t.http().get('/auth/activity').query({ userId: adminId }).set(bearer(u.accessToken));
    expect(activity.status).toBe(400);
  });

  test('GET /auth/activity: the caller’s own events only, paginated', async () => {
    const a = await user();
    const b = await user();
    await login(a.email, 'wrong password for a').expect(401);
    await login(b.email, 'wrong password for b').expect(401);
    const mine = await allEvents(t, a.accessToken, { limit: '1' }, '/auth/activity');
    expect(mine.length).toBeGreaterThanOrEqual(2);
    expect(mine.every((e) => e.userId === a.userId)).toBe(true);
    expect(mine.map((e) => e.type)).toEqual(expect.arrayContaining(['login.succeeded', 'login.failed']));
    const theirs = await allEvents(t, b.accessToken, {}, '/auth/activity');
    expect(theirs.every((e) => e.userId === b.userId)).toBe(true);
    expect(theirs.some((e) => mine.some((m) => m.id === e.id))).toBe(false);
  });

  test('GET /auth/activity: an admin’s ip, user agent and id are not shown to the user; the user’s own are', async () => {
    const u = await user();
    await t
      .http()
      .patch(`/admin/users/${u.userId}`)
      .set(bearer(adminToken))
      .send({ roles: ['user', 'auditor'] })
      .expect(200);
    await t.http().delete(`/admin/users/${u.userId}/sessions`).set(bearer(adminToken)).expect(204);
    const again = await login(u.email).expect(200);
    const mine = await allEvents(t, again.body.accessToken, {}, '/auth/activity');
    const byAdmin = mine.filter((e) => e.type === 'user.updated' || (e.type === 'sessions.revoked_all' && e.details.reason === 'admin'));
    expect(byAdmin).toHaveLength(2);
    for (const e of byAdmin)
      expect({ type: e.type, actorId: e.actorId, ip: e.ip, userAgent: e.userAgent }).toEqual({
        type: e.type,
        actorId: null,
        ip: null,
        userAgent: null,
      });
    expect(mine.find((e) => e.type === 'login.succeeded')).toMatchObject({ ip: expect.any(String), userAgent: AGENT });
    // Admins still see who did it.
    const asAdmin = await eventsOf(u.userId, 'user.updated');
    expect(asAdmin[0]).toMatchObject({ actorId: adminId, ip: expect.any(String) });
  });

  test('both routes are documented in the OpenAPI document, with the page schema and problem responses', async () => {
    const doc = await t.http().get('/docs-json').expect(200);
    for (const path of ['/admin/audit-events', '/auth/activity']) {
      const get = doc.body.paths[path]?.get;
      expect(get?.responses?.['200']?.content?.['application/json']?.schema).toEqual({ $ref: '#/components/schemas/SecurityEventPageDto' });
      expect(Object.keys(get.responses)).toEqual(expect.arrayContaining(['400', '401']));
    }
    expect(Object.keys(doc.body.paths['/admin/audit-events'].get.responses)).toContain('403');
  });

  test('no event holds a password, an access token or a refresh token', async () => {
    const rows = await allEvents(t, adminToken, { since: startedAt, limit: '100' });
    expect(rows.length).toBeGreaterThan(20);
    const json = JSON.stringify(rows);
    for (const secret of secrets.filter((s) => s && s.length >= 10)) expect(json.includes(secret)).toBe(false);
    // Nor the secret parts of a token: a JWT's payload and signature, a refresh token's secret and tag
    // (its user and session ids are not secret, and the events carry them on purpose).
    for (const token of secrets.filter((s) => s && s.includes('.'))) {
      const parts = token.split('.');
      const secretParts = parts.length === 3 ? parts.slice(1) : parts.slice(3);
      for (const part of secretParts) expect(json.includes(part)).toBe(false);
    }
  });
});

describe('retention: events older than AUDIT_RETENTION are pruned', () => {
  let t: TestApp;
  beforeAll(async () => {
    t = await startApp({ AUDIT_RETENTION: '7d' });
  });
  afterAll(async () => {
    await t.close();
  });

  test('an 8-day-old event is deleted, a 6-day-old one kept', async () => {
    const userId = randomUUID();
    const day = 86_400_000;
    const base = {
      type: 'login.failed' as const,
      userId,
      actorId: null,
      ip: '192.0.2.1',
      userAgent: 'old',
      sessionId: null,
      outcome: 'failure' as const,
      details: {},
    };
    const oldId = randomUUID();
    const recentId = randomUUID();
    await t.app.get(SecurityEventsRepository).insert([
      { ...base, id: oldId, time: new Date(Date.now() - 8 * day) },
      { ...base, id: recentId, time: new Date(Date.now() - 6 * day) },
    ]);
    const repository = t.app.get(SecurityEventsRepository);
    expect((await repository.list({ userId }, 10)).map((e) => e.id)).toEqual([recentId, oldId]);
    expect(await t.app.get(SecurityEventsService).prune()).toBeGreaterThanOrEqual(1);
    expect((await repository.list({ userId }, 10)).map((e) => e.id)).toEqual([recentId]);
  });
});

const databaseUrl = process.env.DATABASE_URL;
const describeOutage = databaseUrl ? describe.each : describe.skip.each;

describeOutage([
  ['in Redis', process.env.REDIS_URL],
  ['in memory (no Redis)', undefined],
])('PostgreSQL cut: events wait %s and are written when it returns', (_where, redisUrl) => {
  let proxy: CuttableProxy;
  let t: TestApp;
  const adminEmail = uniqueEmail('admin');
  let adminToken: string;

  beforeAll(async () => {
    const target = new URL(databaseUrl!);
    proxy = await CuttableProxy.start({ host: target.hostname, port: Number(target.port || 5432) });
    target.host = `127.0.0.1:${proxy.port}`;
    t = await startApp({
      DATABASE_URL: target.toString(),
      REDIS_URL: redisUrl,
      BOOTSTRAP_ADMIN_EMAIL: adminEmail,
      BOOTSTRAP_ADMIN_PASSWORD: PASSWORD,
    });
    adminToken = (await t.http().post('/auth/login').send({ email: adminEmail, password: PASSWORD }).expect(200)).body.accessToken;
  });
  afterAll(async () => {
    await t.close();
    await proxy.cut();
  });

  test('logout during the outage answers 204; its session.revoked event appears afterwards with its original time', async () => {
    const u = await registerAndLogin(t);
    await proxy.cut();
    const before = Date.now();
    const logout = await t.http().post('/auth/logout').set(bearer(u.accessToken));
    expect(logout.status).toBe(204);
    const after = Date.now();
    await t
      .http()
      .get('/users/me')
      .set(bearer(u.accessToken))
      .expect((r) => expect([401, 503]).toContain(r.status));

    // It waits: in the Redis list, or in this process's memory.
    const service = t.app.get(SecurityEventsService);
    const redis = t.app.get<RedisService | null>(REDIS);
    if (redis) {
      const pending = await redis.run((client) => client.lRange(PENDING_KEY, 0, -1));
      expect(pending.some((p) => p.includes(u.sessionId))).toBe(true);
    } else {
      expect(service.pendingInMemory).toBeGreaterThanOrEqual(1);
    }
    await sleep(1500); // a flush or two fail meanwhile, and keep the event

    await proxy.restore();
    let found: EventJson | undefined;
    await eventually(15_000, async () => {
      const response = await t
        .http()
        .get('/admin/audit-events')
        .query({ userId: u.userId, type: 'session.revoked' })
        .set(bearer(adminToken));
      found = response.status === 200 ? (response.body.items as EventJson[]).find((e) => e.sessionId === u.sessionId) : undefined;
      return found !== undefined;
    });
    expect(found).toMatchObject({ details: { reason: 'logout' }, outcome: 'success' });
    const time = Date.parse(found!.time);
    expect(time).toBeGreaterThanOrEqual(before - 5);
    expect(time).toBeLessThanOrEqual(after + 5);

    // Written once, and no longer waiting.
    const all = await allEvents(t, adminToken, { userId: u.userId, type: 'session.revoked' });
    expect(all.filter((e) => e.sessionId === u.sessionId)).toHaveLength(1);
    if (redis) {
      await eventually(
        5000,
        async () => !(await redis.run((client) => client.lRange(PENDING_KEY, 0, -1))).some((p) => p.includes(u.sessionId)),
      );
    } else {
      expect(service.pendingInMemory).toBe(0);
    }
  });
});
