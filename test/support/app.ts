import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomUUID } from 'node:crypto';
import type { NestFastifyApplication } from '@nestjs/platform-fastify';
import request from 'supertest';
import { createApp } from '../../src/app.setup.js';

export interface TestApp {
  app: NestFastifyApplication;
  http: () => ReturnType<typeof request>;
  dataDir: string;
  close(): Promise<void>;
}

/** Defaults for tests: quiet logs, generous login limits (the throttling suite sets its own). */
const TEST_DEFAULTS: Record<string, string> = {
  LOG_LEVEL: 'silent',
  THROTTLE_LOGIN_LIMIT: '100000',
  THROTTLE_REFRESH_LIMIT: '100000',
  THROTTLE_LIMIT: '100000',
  THROTTLE_REGISTER_LIMIT: '100000',
  THROTTLE_MAIL_LIMIT: '100000',
};

/**
 * Starts the real AppModule exactly as main.ts does (createApp), on REDIS_URL/DATABASE_URL when
 * set (CI) or the embedded defaults. `env` overrides configuration for this app only.
 */
export async function startApp(env: Record<string, string | undefined> = {}): Promise<TestApp> {
  const dataDir = env.DATA_DIR ?? mkdtempSync(join(tmpdir(), 'tessera-test-'));
  const saved = { ...process.env };
  Object.assign(process.env, TEST_DEFAULTS, { DATA_DIR: dataDir });
  for (const [key, value] of Object.entries(env)) {
    if (value === undefined) delete process.env[key];
    else process.env[key] = value;
  }
  let app: NestFastifyApplication | undefined;
  try {
    app = await createApp();
    await app.init();
    await app.getHttpAdapter().getInstance().ready();
  } catch (error) {
    // A start-up refused after the module was built (e.g. a bootstrap admin password the policy
    // refuses) must not leave its database and Redis connections open behind the test.
    await app?.close().catch(() => undefined);
    if (!env.DATA_DIR) rmSync(dataDir, { recursive: true, force: true });
    throw error;
  } finally {
    for (const key of Object.keys(process.env)) if (!(key in saved)) delete process.env[key];
    Object.assign(process.env, saved);
  }
  const started = app;
  return {
    app: started,
    dataDir,
    http: () => request(started.getHttpServer()),
    close: async () => {
      await started.close();
      if (!env.DATA_DIR) rmSync(dataDir, { recursive: true, force: true });
    },
  };
}

export const uniqueEmail = (label = 'user') => `${label}-${randomUUID()}@example.com`;
export const PASSWORD = 'correct horse battery staple';

/** Registers and logs in a fresh user; returns the tokens and the refresh cookie. */
export async function registerAndLogin(t: TestApp, options: { email?: string; userAgent?: string } = {}) {
  const email = options.email ?? uniqueEmail();
  const registered = await t.http().post('/auth/register').send({ email, password: PASSWORD }).expect(201);
  const login = await t
    .http()
    .post('/auth/login')
    .set('User-Agent', options.userAgent ?? 'jest')
    .send({ email, password: PASSWORD })
    .expect(200);
  return {
    email,
    userId: registered.body.id as string,
    accessToken: login.body.accessToken as string,
    sessionId: login.body.sessionId as string,
    cookie: refreshCookieOf(login.headers['set-cookie']),
  };
}

/** The `name=value` of the refresh cookie in a Set-Cookie header list (empty string if none). */
export function refreshCookieOf(setCookie: string | string[] | undefined): string {
  const list = Array.isArray(setCookie) ? setCookie : setCookie ? [setCookie] : [];
  const cookie = list.find((c) => /^(__Secure-)?refresh_token=/.test(c));
  return cookie ? cookie.split(';')[0] : '';
}

export const bearer = (token: string) => ({ Authorization: `Bearer ${token}` });
