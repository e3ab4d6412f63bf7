import { afterAll, describe, expect, jest, test } from '@jest/globals';
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { SecurityEventsRepository } from '../../src/audit/security-events.repository.js';
import { ConfigError } from '../../src/config/config-error.js';
import { bearer, PASSWORD, refreshCookieOf, startApp, type TestApp, uniqueEmail } from '../support/app.js';

/**
 * The bootstrap admin is create-only. Each scenario restarts the app on the same data directory
 * (same PGlite database and signing key; with DATABASE_URL, the same PostgreSQL), as an operator's
 * restart would.
 */
const BOOTSTRAP_PASSWORD = 'bootstrap admin password 1';
const ATTACKER_PASSWORD = 'attacker chosen password';
/** With Redis the attacker's sessions survive a restart; the in-process store forgets them. */
const sessionsSurviveRestart = Boolean(process.env.REDIS_URL);

// Each test starts the app twice on a new data directory (a new embedded database each time without
// DATABASE_URL) and hashes several passwords: on a loaded 2-core machine that is well over 30 s.
jest.setTimeout(120_000);

describe('bootstrap admin: created when the address is free, never takes over or resets an account', () => {
  const dirs: string[] = [];
  const apps: TestApp[] = [];
  const dataDir = () => {
    const dir = mkdtempSync(join(tmpdir(), 'tessera-bootstrap-'));
    dirs.push(dir);
    return dir;
  };
  const start = async (env: Record<string, string>) => {
    const t = await startApp(env);
    apps.push(t);
    return t;
  };
  const stop = async (t: TestApp) => {
    apps.splice(apps.indexOf(t), 1);
    await t.close();
  };
  afterAll(async () => {
    for (const t of apps) await t.close();
    for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
  });

  test('an account registered before BOOTSTRAP_ADMIN_EMAIL was configured is left exactly as it was', async () => {
    const DATA_DIR = dataDir();
    const email = uniqueEmail('future-admin');
    const before = await start({ DATA_DIR });
    const registered = await before.http().post('/auth/register').send({ email, password: ATTACKER_PASSWORD }).expect(201);
    const attackerId = registered.body.id as string;
    const login = await before.http().post('/auth/login').send({ email, password: ATTACKER_PASSWORD }).expect(200);
    const oldAccessToken = login.body.accessToken as string;
    await stop(before);

    const t = await start({ DATA_DIR, BOOTSTRAP_ADMIN_EMAIL: email, BOOTSTRAP_ADMIN_PASSWORD: BOOTSTRAP_PASSWORD });

    // The attacker's existing access token gets no admin rights (with Redis it is still alive: 403;
    // without, the session was in memory and is gone: 401).
    const withOldToken = await t.http().get(`/admin/users/${attackerId}`).set(bearer(oldAccessToken));
    expect(withOldToken.status).toBe(sessionsSurviveRestart ? 403 : 401);

    // The bootstrap password does not open the account; the attacker's own password still does.
    const bootstrapLogin = await t.http().post('/auth/login').send({ email, password: BOOTSTRAP_PASSWORD });
    expect(bootstrapLogin.status).toBe(401);
    const attackerLogin = await t.http().post('/auth/login').send({ email, password: ATTACKER_PASSWORD });
    expect(attackerLogin.status).toBe(200);

    const me = await t.http().get('/users/me').set(bearer(attackerLogin.body.accessToken)).expect(200);
    expect(me.body.roles).not.toContain('admin');
    const adminRoute = await t.http().get(`/admin/users/${attackerId}`).set(bearer(attackerLogin.body.accessToken));
    expect({ status: adminRoute.status, code: adminRoute.body.code }).toEqual({ status: 403, code: 'forbidden' });

    // Nor after a refresh (a fresh token with freshly read roles).
    const refreshed = await t.http().post('/auth/refresh').set('Cookie', refreshCookieOf(attackerLogin.headers['set-cookie'])).expect(200);
    expect(refreshed.body.accessToken).toEqual(expect.any(String));
    const afterRefresh = await t.http().get(`/admin/users/${attackerId}`).set(bearer(refreshed.body.accessToken));
    expect(afterRefresh.status).toBe(403);

    // The refusal is a security event about that account.
    const [skipped] = await t.app.get(SecurityEventsRepository).list({ userId: attackerId, type: 'bootstrap.admin' }, 10);
    // By id only: the email never reaches the event (nor its log line).
    expect(skipped).toMatchObject({ outcome: 'failure' });
    expect(skipped.details).toEqual({ created: false, reason: 'exists_not_admin' });
  });

  test('a free address gets a working admin (roles user and admin)', async () => {
    const DATA_DIR = dataDir();
    const email = uniqueEmail('admin');
    const t = await start({ DATA_DIR, BOOTSTRAP_ADMIN_EMAIL: email, BOOTSTRAP_ADMIN_PASSWORD: BOOTSTRAP_PASSWORD });
    const login = await t.http().post('/auth/login').send({ email, password: BOOTSTRAP_PASSWORD }).expect(200);
    const me = await t.http().get('/users/me').set(bearer(login.body.accessToken)).expect(200);
    expect([...me.body.roles].sort()).toEqual(['admin', 'user']);
    await t.http().get(`/admin/users/${me.body.id}`).set(bearer(login.body.accessToken)).expect(200);
  });

  test('a disabled bootstrap admin stays disabled after a restart', async () => {
    const DATA_DIR = dataDir();
    const email = uniqueEmail('admin');
    const env = { DATA_DIR, BOOTSTRAP_ADMIN_EMAIL: email, BOOTSTRAP_ADMIN_PASSWORD: BOOTSTRAP_PASSWORD };
    const first = await start(env);
    const login = await first.http().post('/auth/login').send({ email, password: BOOTSTRAP_PASSWORD }).expect(200);
    const me = await first.http().get('/users/me').set(bearer(login.body.accessToken)).expect(200);
    // A second admin disables the bootstrap admin, as after a compromise (the last enabled admin
    // cannot be disabled: on a fresh database the bootstrap admin is the only one).
    const deputyEmail = uniqueEmail('second-admin');
    const deputy = await first.http().post('/auth/register').send({ email: deputyEmail, password: PASSWORD }).expect(201);
    await first
      .http()
      .patch(`/admin/users/${deputy.body.id}`)
      .set(bearer(login.body.accessToken))
      .send({ roles: ['user', 'admin'] })
      .expect(200);
    const deputyLogin = await first.http().post('/auth/login').send({ email: deputyEmail, password: PASSWORD }).expect(200);
    await first.http().patch(`/admin/users/${me.body.id}`).set(bearer(deputyLogin.body.accessToken)).send({ disabled: true }).expect(200);
    await first.http().post('/auth/login').send({ email, password: BOOTSTRAP_PASSWORD }).expect(401);
    await stop(first);

    const second = await start(env);
    const again = await second.http().post('/auth/login').send({ email, password: BOOTSTRAP_PASSWORD });
    expect(again.status).toBe(401);
  });

  test('the admin’s changed password survives a restart; the bootstrap password does not come back', async () => {
    const DATA_DIR = dataDir();
    const email = uniqueEmail('admin');
    const env = { DATA_DIR, BOOTSTRAP_ADMIN_EMAIL: email, BOOTSTRAP_ADMIN_PASSWORD: BOOTSTRAP_PASSWORD };
    const first = await start(env);
    const login = await first.http().post('/auth/login').send({ email, password: BOOTSTRAP_PASSWORD }).expect(200);
    await first
      .http()
      .post('/auth/password')
      .set(bearer(login.body.accessToken))
      .send({ currentPassword: BOOTSTRAP_PASSWORD, newPassword: PASSWORD })
      .expect(204);
    await stop(first);

    const second = await start(env);
    const withBootstrap = await second.http().post('/auth/login').send({ email, password: BOOTSTRAP_PASSWORD });
    expect(withBootstrap.status).toBe(401);
    const withChanged = await second.http().post('/auth/login').send({ email, password: PASSWORD });
    expect(withChanged.status).toBe(200);
    const me = await second.http().get('/users/me').set(bearer(withChanged.body.accessToken)).expect(200);
    expect(me.body.roles).toContain('admin');

    // The ordinary restart is no failure (it would feed failure alerts on every deploy).
    const restarts = await second.app.get(SecurityEventsRepository).list({ userId: me.body.id, type: 'bootstrap.admin' }, 10);
    const existing = restarts.find((e) => e.details.created === false);
    expect(existing).toMatchObject({ outcome: 'success' });
    expect(existing?.details).toEqual({ created: false, reason: 'exists_as_admin' });
  });

  test.each([
    ['too short', 'short secret', /at least 15 characters/],
    ['a common password', 'passwordpassword', /most common passwords/],
    ['containing the admin’s email', '{email} is my password', /email address/],
    ['containing the local part', '{local} is my password', /email address/],
    ['containing "tessera"', 'Tessera admin password', /name of this service/],
  ])(
    'a bootstrap password %s stops the start-up naming BOOTSTRAP_ADMIN_PASSWORD and the rule; no admin is made',
    async (_name, template, rule) => {
      const DATA_DIR = dataDir();
      const email = uniqueEmail('admin');
      const password = template.replace('{email}', email).replace('{local}', email.split('@')[0]);
      const refused = await startApp({ DATA_DIR, BOOTSTRAP_ADMIN_EMAIL: email, BOOTSTRAP_ADMIN_PASSWORD: password }).then(
        (t) => {
          apps.push(t);
          return undefined;
        },
        (error: unknown) => error,
      );
      expect(refused).toBeInstanceOf(ConfigError);
      const error = refused as ConfigError;
      expect(error.variable).toBe('BOOTSTRAP_ADMIN_PASSWORD');
      expect(error.message).toMatch(rule);
      expect(error.message).not.toContain('\n');
      expect(error.message).not.toContain(password);
      expect(error.message).not.toContain(email);

      // Nothing was created: with a good password the next start makes the admin.
      const t = await start({ DATA_DIR, BOOTSTRAP_ADMIN_EMAIL: email, BOOTSTRAP_ADMIN_PASSWORD: BOOTSTRAP_PASSWORD });
      await t.http().post('/auth/login').send({ email, password }).expect(401);
      await t.http().post('/auth/login').send({ email, password: BOOTSTRAP_PASSWORD }).expect(200);
    },
  );

  test('the built server (dist/main.js) exits with one fatal line naming BOOTSTRAP_ADMIN_PASSWORD, never the password', async () => {
    const main = join(process.cwd(), 'dist', 'main.js');
    if (!existsSync(main)) throw new Error('dist/main.js is missing: run `npm run build` first (npm test does)');
    const password = 'passwordpassword';
    const child = spawn(process.execPath, [main], {
      env: {
        PATH: process.env.PATH,
        HOST: '127.0.0.1',
        PORT: '0',
        DATA_DIR: dataDir(),
        BOOTSTRAP_ADMIN_EMAIL: 'root@example.com',
        BOOTSTRAP_ADMIN_PASSWORD: password,
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let output = '';
    child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (output += chunk.toString()));
    // A server that starts anyway would never exit: stopped after a minute (and the test fails).
    const deadline = setTimeout(() => child.kill('SIGKILL'), 60_000);
    const code = await new Promise<number | null>((resolve) => child.on('exit', resolve));
    clearTimeout(deadline);
    expect(code).toBe(1);
    expect(output).not.toContain(password);
    const fatal = output
      .split('\n')
      .filter((line) => line.startsWith('{'))
      .map((line) => JSON.parse(line) as { level: number; variable?: string; msg: string })
      .filter((line) => line.level === 60);
    expect(fatal).toHaveLength(1);
    expect(fatal[0].variable).toBe('BOOTSTRAP_ADMIN_PASSWORD');
    expect(fatal[0].msg).toMatch(/BOOTSTRAP_ADMIN_PASSWORD .*most common passwords/);
  });
});
