import { afterAll, beforeAll, describe, expect, test } from '@jest/globals';
import { generateKeyPairSync, randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { bearer, PASSWORD, startApp, uniqueEmail } from '../support/app.js';

/*
 * Refresh tokens and sealed successors rest on SERVER_SECRETS, not on the JWT signing key: the
 * signing key can be replaced without logging anyone out, and prepending a new server secret keeps
 * every token made under the older one. Sessions must outlive an app, so this needs Redis.
 */
const describeWithRedis = process.env.REDIS_URL ? describe : describe.skip;

describeWithRedis('server secrets apart from the signing key', () => {
  let dir: string;
  const keyFile = (name: string) => {
    const file = join(dir, `${name}.pem`);
    writeFileSync(file, generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey.export({ format: 'pem', type: 'pkcs8' }));
    return file;
  };
  const older = randomBytes(32).toString('hex');
  const newer = randomBytes(32).toString('base64url');

  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'tessera-secrets-'));
  });
  afterAll(() => {
    rmSync(dir, { recursive: true, force: true });
  });

  test('replacing the signing key, then prepending a server secret, logs nobody out', async () => {
    const first = keyFile('first');
    const a = await startApp({ JWT_PRIVATE_KEY_FILE: first, SERVER_SECRETS: older });
    const email = uniqueEmail();
    await a.http().post('/auth/register').send({ email, password: PASSWORD }).expect(201);
    const login = await a.http().post('/auth/login').send({ email, password: PASSWORD, client: 'native' }).expect(200);
    await a.close();

    // A new signing key (the old one still published so its access tokens verify until they expire).
    const b = await startApp({ JWT_PRIVATE_KEY_FILE: keyFile('second'), JWT_PREVIOUS_PUBLIC_KEY_FILES: first, SERVER_SECRETS: older });
    const afterKeyChange = await b.http().post('/auth/refresh').send({ refreshToken: login.body.refreshToken }).expect(200);
    await b.http().get('/users/me').set(bearer(afterKeyChange.body.accessToken)).expect(200);
    await b.close();

    // A new server secret in front of the old one: the token made under the old one still rotates.
    const c = await startApp({ JWT_PRIVATE_KEY_FILE: keyFile('third'), SERVER_SECRETS: `${newer},${older}` });
    const afterSecretChange = await c.http().post('/auth/refresh').send({ refreshToken: afterKeyChange.body.refreshToken }).expect(200);
    await c.close();

    // Once the old secret is dropped, only what the new one made is accepted.
    const d = await startApp({ JWT_PRIVATE_KEY_FILE: keyFile('fourth'), SERVER_SECRETS: newer });
    await d.http().post('/auth/refresh').send({ refreshToken: afterSecretChange.body.refreshToken }).expect(200);
    await d.close();
  });

  test('without the secret that made it, a refresh token is refused and ends nothing', async () => {
    const key = keyFile('only');
    const a = await startApp({ JWT_PRIVATE_KEY_FILE: key, SERVER_SECRETS: older });
    const email = uniqueEmail();
    await a.http().post('/auth/register').send({ email, password: PASSWORD }).expect(201);
    const login = await a.http().post('/auth/login').send({ email, password: PASSWORD, client: 'native' }).expect(200);
    await a.close();
    const b = await startApp({ JWT_PRIVATE_KEY_FILE: key, SERVER_SECRETS: newer });
    const refused = await b.http().post('/auth/refresh').send({ refreshToken: login.body.refreshToken }).expect(401);
    expect(refused.body.code).toBe('invalid_refresh_token');
    await b.http().get('/users/me').set(bearer(login.body.accessToken)).expect(200);
    await b.close();
  });
});
