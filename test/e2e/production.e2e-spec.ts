import { afterAll, beforeAll, describe, expect, test } from '@jest/globals';
import { generateKeyPairSync, randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startApp, type TestApp } from '../support/app.js';
import { TestMailbox } from '../support/mailbox.js';

/** Production refuses to start without SMTP_URL: one real SMTP server for the whole file. */
const mailbox = new TestMailbox();
beforeAll(async () => {
  await mailbox.start();
});
afterAll(async () => {
  await mailbox.stop();
});

/** What production requires; the suites below add DOCS / METRICS_TOKEN on top. */
function productionEnv(dir: string): Record<string, string> {
  const keyFile = join(dir, 'jwt-private.pem');
  writeFileSync(keyFile, generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey.export({ format: 'pem', type: 'pkcs8' }));
  return {
    NODE_ENV: 'production',
    JWT_PRIVATE_KEY_FILE: keyFile,
    SERVER_SECRETS: randomBytes(32).toString('hex'),
    PUBLIC_ORIGIN: 'https://auth.example.com',
    SMTP_URL: mailbox.url,
    APP_URL: 'https://app.example.com',
  };
}

describe('production: Swagger and /metrics are off unless asked for', () => {
  let dir: string;
  let t: TestApp;
  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'tessera-prod-'));
    t = await startApp(productionEnv(dir));
  });
  afterAll(async () => {
    await t.close();
    rmSync(dir, { recursive: true, force: true });
  });

  test('/docs, /docs-json and /metrics answer 404', async () => {
    for (const path of ['/docs', '/docs-json', '/metrics']) {
      const response = await t.http().get(path);
      expect(response.status).toBe(404);
      expect(response.headers['content-type']).toMatch(/^application\/problem\+json/);
    }
    await t.http().get('/health/live').expect(200);
  });
});

describe('production with DOCS=true and METRICS_TOKEN', () => {
  let dir: string;
  let t: TestApp;
  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'tessera-prod-'));
    t = await startApp({ ...productionEnv(dir), DOCS: 'true', METRICS_TOKEN: 'scrape-token-for-tests' });
  });
  afterAll(async () => {
    await t.close();
    rmSync(dir, { recursive: true, force: true });
  });

  test('Swagger is served; /metrics wants the token', async () => {
    await t.http().get('/docs-json').expect(200);
    await t.http().get('/metrics').expect(401);
    await t.http().get('/metrics').set('Authorization', 'Bearer scrape-token-for-tests').expect(200);
  });
});
