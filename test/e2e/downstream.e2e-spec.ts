import { afterAll, beforeAll, describe, expect, test } from '@jest/globals';
import { generateKeyPairSync, randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { NestFastifyApplication } from '@nestjs/platform-fastify';
import { TesseraVerifier } from '@tessera/verifier';
import { createDownstream } from '../../examples/downstream/src/app.js';
import { bearer, registerAndLogin, startApp, type TestApp } from '../support/app.js';
import { until } from '../support/redis-topologies.js';

/**
 * The "Done when", tried as a team would: Tessera and the example downstream service (the
 * verifier package through its public entry point), over real HTTP. Two Tessera instances share
 * Redis, the signing key and the server secrets; the downstream service follows instance A's feed.
 */
const describeShared = process.env.REDIS_URL ? describe : describe.skip;
const MAX_STALENESS_MS = 5000; // the default
const CLIENT = { id: 'example-downstream', secret: 'development-only-downstream-secret' };

describeShared('an example downstream service protected by @tessera/verifier', () => {
  let keyDir: string;
  let shared: Record<string, string>;
  let a: TestApp | undefined;
  let b: TestApp;
  let port: number;
  let downstream: NestFastifyApplication;
  let downstreamUrl: string;

  const startA = async () => {
    const app = await startApp(shared);
    await app.app.listen(port, '127.0.0.1');
    return app;
  };
  const get = async (path: string, token?: string) => {
    const response = await fetch(`${downstreamUrl}${path}`, { headers: token ? bearer(token) : {} });
    const text = await response.text();
    return { status: response.status, headers: response.headers, body: text ? JSON.parse(text) : undefined };
  };

  beforeAll(async () => {
    keyDir = mkdtempSync(join(tmpdir(), 'tessera-keys-'));
    const keyFile = join(keyDir, 'jwt-private.pem');
    writeFileSync(keyFile, generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey.export({ type: 'pkcs8', format: 'pem' }));
    shared = { JWT_PRIVATE_KEY_FILE: keyFile, SERVER_SECRETS: randomBytes(32).toString('hex') };
    a = await startApp(shared);
    await a.app.listen(0, '127.0.0.1');
    port = (a.app.getHttpServer().address() as AddressInfo).port;
    b = await startApp(shared);
    downstream = await createDownstream(
      { tesseraUrl: `http://127.0.0.1:${port}`, clientId: CLIENT.id, clientSecret: CLIENT.secret, maxStalenessMs: MAX_STALENESS_MS },
      { logger: false },
    );
    await downstream.listen(0, '127.0.0.1');
    downstreamUrl = await downstream.getUrl();
    // Needs Tessera's GET /auth/revocations: until it answers, the service stays not ready (503).
    const verifier = downstream.get(TesseraVerifier);
    await until('the service has read the JWKS and caught up with the feed', () => verifier.isReady());
  });

  afterAll(async () => {
    await downstream?.close();
    await a?.close();
    await b?.close();
    rmSync(keyDir, { recursive: true, force: true });
  });

  test('log in on Tessera, call the service; log out on Tessera and the next call is refused', async () => {
    expect((await get('/public')).status).toBe(200);
    const user = await registerAndLogin(a!);
    const protectedAnswer = await get('/protected', user.accessToken);
    expect(protectedAnswer.status).toBe(200);
    expect(protectedAnswer.body.userId).toBe(user.userId);
    expect((await get('/passport', user.accessToken)).status).toBe(200);
    expect((await get('/recent', user.accessToken)).status).toBe(200);
    expect((await get('/admin', user.accessToken)).body.code).toBe('forbidden');
    expect((await get('/protected')).body.code).toBe('missing_token');

    await a!.http().post('/auth/logout').set(bearer(user.accessToken)).expect(204);
    await until('the logout reaches the service', async () => (await get('/protected', user.accessToken)).status === 401);
    expect((await get('/protected', user.accessToken)).body.code).toBe('session_revoked');
    expect((await get('/passport', user.accessToken)).body.code).toBe('session_revoked');
  });

  test('Tessera stopped: valid tokens keep working until maxStaleness, then 503; back: it recovers and applies a logout made meanwhile on another instance', async () => {
    const stays = await registerAndLogin(a!);
    const leaves = await registerAndLogin(a!);
    expect((await get('/protected', stays.accessToken)).status).toBe(200);
    expect((await get('/protected', leaves.accessToken)).status).toBe(200);

    const verifier = downstream.get(TesseraVerifier);
    const closing = a!.close();
    a = undefined;
    await until('the service notices the feed is gone', () => !verifier.status().feedConnected);
    const stoppedAt = Date.now();
    // Still served from what the service knows: the outage is younger than maxStaleness.
    expect((await get('/protected', stays.accessToken)).status).toBe(200);
    await closing;
    // A logout on the other instance while the service cannot hear about it.
    await b.http().post('/auth/logout').set(bearer(leaves.accessToken)).expect(204);
    await until('503 once maxStaleness has passed', async () => (await get('/protected', stays.accessToken)).status === 503);
    expect(Date.now() - stoppedAt).toBeGreaterThanOrEqual(MAX_STALENESS_MS - 1000);
    const unavailable = await get('/protected', stays.accessToken);
    expect(unavailable.body.code).toBe('service_unavailable');
    expect(unavailable.headers.get('retry-after')).toBeTruthy();
    expect((await get('/public')).status).toBe(200);

    a = await startA();
    await until('recovered', async () => (await get('/protected', stays.accessToken)).status === 200);
    // The first answer after recovery already knows the logout made on B during the outage.
    expect((await get('/protected', leaves.accessToken)).body.code).toBe('session_revoked');
  });
});
