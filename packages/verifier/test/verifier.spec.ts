import { afterEach, beforeAll, beforeEach, describe, expect, it } from '@jest/globals';
import { Controller, Get, type INestApplication, Module, UseGuards } from '@nestjs/common';
import { Test } from '@nestjs/testing';
import { FastifyAdapter, type NestFastifyApplication } from '@nestjs/platform-fastify';
import { exportSPKI, importJWK } from 'jose';
import { createHmac, randomUUID } from 'node:crypto';
import {
  Auth,
  type AuthenticatedUser,
  CurrentUser,
  Public,
  RecentAuth,
  TesseraVerifier,
  TesseraVerifierModule,
  type TesseraVerifierOptions,
} from '@tessera/verifier';
import { TesseraAuthGuard, TesseraStrategy } from '@tessera/verifier/passport';
import { AUDIENCE, CLIENT_ID, CLIENT_SECRET, FakeTessera, ISSUER, mint, newKey, type SigningKey } from './fake-tessera.js';

/** Polls `check` until true (no fixed sleeps: the machine's speed must not matter). */
async function until(what: string, check: () => boolean | Promise<boolean>, timeoutMs = 15_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for: ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
}

@Controller()
class RoutesController {
  @Public()
  @Get('public')
  public() {
    return { ok: true };
  }

  @Auth()
  @Get('protected')
  protected(@CurrentUser() user: AuthenticatedUser) {
    return user;
  }

  @Auth('admin')
  @Get('admin')
  admin() {
    return { admin: true };
  }

  @RecentAuth(60)
  @Get('recent')
  recent() {
    return { recent: true };
  }

  @RecentAuth(60, { acr: 'urn:tessera:aal2' })
  @Get('recent-aal2')
  recentAal2() {
    return { recent: true };
  }

  @Public()
  @UseGuards(TesseraAuthGuard)
  @Auth('admin')
  @Get('passport-admin')
  passportAdmin(@CurrentUser() user: AuthenticatedUser) {
    return user;
  }

  @Public()
  @UseGuards(TesseraAuthGuard)
  @Get('passport')
  passport(@CurrentUser() user: AuthenticatedUser) {
    return user;
  }
}

const quiet = { log: () => undefined, warn: () => undefined, error: () => undefined };

async function startService(tessera: FakeTessera, overrides: Partial<TesseraVerifierOptions> = {}, wait = true) {
  @Module({
    imports: [
      TesseraVerifierModule.forRoot({
        tesseraUrl: tessera.url,
        clientId: CLIENT_ID,
        clientSecret: CLIENT_SECRET,
        maxStalenessMs: 1500,
        feedWatchdogMs: 700,
        reconnectMinDelayMs: 20,
        reconnectMaxDelayMs: 200,
        logger: quiet,
        ...overrides,
      }),
    ],
    controllers: [RoutesController],
    providers: [TesseraStrategy],
  })
  class ServiceModule {}
  const moduleRef = await Test.createTestingModule({ imports: [ServiceModule] }).compile();
  const app = moduleRef.createNestApplication<NestFastifyApplication>(new FastifyAdapter(), { logger: false });
  await app.listen(0, '127.0.0.1');
  if (wait) await app.get(TesseraVerifier).ready();
  return app;
}

async function call(app: INestApplication, path: string, token?: string) {
  const response = await fetch(`${await app.getUrl()}${path}`, {
    headers: token === undefined ? {} : { authorization: `Bearer ${token}` },
  });
  const text = await response.text();
  return { status: response.status, headers: Object.fromEntries(response.headers), body: text ? JSON.parse(text) : undefined };
}

describe('@tessera/verifier', () => {
  let tessera: FakeTessera;
  let key: SigningKey;
  let app: INestApplication;

  beforeAll(async () => {
    key = await newKey();
  });

  beforeEach(async () => {
    tessera = new FakeTessera();
    tessera.keys = [key];
    await tessera.start();
  });

  afterEach(async () => {
    await app?.close();
    await tessera.stop();
  });

  describe('verification (Tessera rules)', () => {
    beforeEach(async () => {
      app = await startService(tessera);
    });

    it('accepts a valid token and hands @CurrentUser() the user', async () => {
      const sub = randomUUID();
      const sid = randomUUID();
      const authTime = Math.floor(Date.now() / 1000) - 30;
      const token = await mint(key, { sub, sid, roles: ['reader'], authTime });
      const res = await call(app, '/protected', token);
      expect(res.status).toBe(200);
      expect(res.body).toEqual({
        id: sub,
        sessionId: sid,
        roles: ['reader'],
        authTime: authTime * 1000,
        amr: ['pwd'],
        acr: 'urn:tessera:aal1',
      });
    });

    it('answers 401 missing_token without a token, as problem+json', async () => {
      const res = await call(app, '/protected');
      expect(res.status).toBe(401);
      expect(res.body.code).toBe('missing_token');
      expect(res.headers['content-type']).toMatch(/^application\/problem\+json/);
      expect(res.headers['www-authenticate']).toBe('Bearer error="invalid_request"');
    });

    it('refuses an HS256 token "signed" with the public key (algorithm pinned per key)', async () => {
      const publicPem = await exportSPKI((await importJWK(key.jwk, 'ES256')) as CryptoKey);
      const b64 = (o: object) => Buffer.from(JSON.stringify(o)).toString('base64url');
      const now = Math.floor(Date.now() / 1000);
      const header = b64({ alg: 'HS256', typ: 'at+jwt', kid: key.kid });
      const payload = b64({
        sub: 'x',
        sid: 'y',
        jti: 'z',
        roles: ['admin'],
        iat: now,
        exp: now + 60,
        iss: ISSUER,
        aud: AUDIENCE,
        auth_time: now,
        amr: ['pwd'],
        acr: 'urn:tessera:aal1',
      });
      const signature = createHmac('sha256', publicPem).update(`${header}.${payload}`).digest('base64url');
      const res = await call(app, '/protected', `${header}.${payload}.${signature}`);
      expect(res.status).toBe(401);
      expect(res.body.code).toBe('invalid_token');
    });

    it.each([
      ['a wrong typ', { typ: 'JWT' }],
      ['a wrong issuer', { iss: 'someone-else' }],
      ['a wrong audience', { aud: 'another-api' }],
      ['an unknown acr', { acr: 'urn:other:gold' }],
      ['a lifetime longer than accepted', { exp: Math.floor(Date.now() / 1000) + 3600 }],
    ])('refuses a token with %s', async (_label, overrides) => {
      const res = await call(app, '/protected', await mint(key, overrides));
      expect(res.status).toBe(401);
      expect(res.body.code).toBe('invalid_token');
    });

    it('refuses a token signed by a key not in the JWKS, and garbage', async () => {
      expect((await call(app, '/protected', await mint(await newKey()))).body.code).toBe('invalid_token');
      expect((await call(app, '/protected', 'not.a.token')).body.code).toBe('invalid_token');
    });

    it('answers token_expired for an expired token (beyond the tolerance)', async () => {
      const iat = Math.floor(Date.now() / 1000) - 600;
      const res = await call(app, '/protected', await mint(key, { iat, exp: iat + 60 }));
      expect(res.status).toBe(401);
      expect(res.body.code).toBe('token_expired');
    });

    it('fetches the JWKS again for an unknown kid, at most once per cooldown', async () => {
      const rotated = await newKey();
      tessera.keys = [rotated, key];
      const before = tessera.jwksFetches;
      expect((await call(app, '/protected', await mint(rotated))).status).toBe(200);
      expect(tessera.jwksFetches).toBe(before + 1);
      // Another new key within the cooldown: its requests wait for the next fetch (one, shared), then pass.
      const other = await newKey();
      tessera.keys = [other, rotated, key];
      const token = await mint(other);
      const statuses = await Promise.all(Array.from({ length: 5 }, async () => (await call(app, '/protected', token)).status));
      expect(statuses).toEqual([200, 200, 200, 200, 200]);
      expect(tessera.jwksFetches).toBe(before + 2);
    });
  });

  describe('JWKS refresh', () => {
    it('fetches the JWKS again at least every jwksMaxAgeMs: a key Tessera retired stops verifying', async () => {
      app = await startService(tessera, { jwksMaxAgeMs: 300 });
      expect((await call(app, '/protected', await mint(key))).status).toBe(200);
      const next = await newKey();
      tessera.keys = [next];
      // Tokens not verified before (the cache keeps a verified one until it expires).
      await until('the retired key is refused', async () => (await call(app, '/protected', await mint(key))).status === 401);
      expect((await call(app, '/protected', await mint(next))).status).toBe(200);
    });
  });

  describe('revocations from the feed', () => {
    beforeEach(async () => {
      app = await startService(tessera);
    });

    it('refuses a token whose session ended, on the next request; other sessions still work', async () => {
      const sid = randomUUID();
      const token = await mint(key, { sid });
      const other = await mint(key);
      expect((await call(app, '/protected', token)).status).toBe(200);
      tessera.revokeSession(sid);
      await until('the revocation arrives', async () => (await call(app, '/protected', token)).status === 401);
      expect((await call(app, '/protected', token)).body.code).toBe('session_revoked');
      expect((await call(app, '/protected', other)).status).toBe(200);
    });

    it("refuses a user's tokens issued before notBefore, not the newer ones", async () => {
      const sub = randomUUID();
      const now = Math.floor(Date.now() / 1000);
      const old = await mint(key, { sub, iat: now - 10, roles: ['admin'] });
      const fresh = await mint(key, { sub, iat: now, roles: [] });
      expect((await call(app, '/admin', old)).status).toBe(200);
      tessera.publish({ type: 'user', sub, notBefore: now });
      await until('the user event arrives', async () => (await call(app, '/admin', old)).status === 401);
      expect((await call(app, '/protected', fresh)).status).toBe(200);
    });

    it('resumes with Last-Event-ID after the connection drops, missing no event', async () => {
      const sids = [randomUUID(), randomUUID(), randomUUID()];
      const tokens = await Promise.all(sids.map((sid) => mint(key, { sid })));
      const firstId = tessera.revokeSession(sids[0]);
      await until('the first revocation arrives', async () => (await call(app, '/protected', tokens[0])).status === 401);
      tessera.silent = true; // events published now reach nobody live
      tessera.dropConnections();
      tessera.revokeSession(sids[1]);
      tessera.silent = false;
      await until('the verifier reconnects', () => tessera.lastEventIds.length >= 2);
      expect(tessera.lastEventIds[1]).toBe(firstId);
      await until('the missed revocation is replayed', async () => (await call(app, '/protected', tokens[1])).status === 401);
      expect((await call(app, '/protected', tokens[2])).status).toBe(200);
    });

    it('starts over from everything kept when the feed refuses its position (400)', async () => {
      const sid = randomUUID();
      const token = await mint(key, { sid });
      const first = tessera.revokeSession(randomUUID());
      await until('the event arrives', () => app.get(TesseraVerifier).feedPosition === first);
      tessera.refusePositions = true;
      tessera.silent = true;
      const attempts = tessera.lastEventIds.length;
      tessera.dropConnections();
      tessera.revokeSession(sid);
      tessera.silent = false;
      await until(
        'reconnected without a position',
        () => tessera.lastEventIds.length > attempts + 1 && tessera.lastEventIds.at(-1) === undefined,
      );
      expect(tessera.lastEventIds[attempts]).toBe(first); // it asked with its position first
      await until('the missed revocation is applied', async () => (await call(app, '/protected', token)).status === 401);
    });

    it('keeps retrying when the feed answers errors, and resumes from where it was', async () => {
      const sid = randomUUID();
      const token = await mint(key, { sid });
      const lastId = tessera.revokeSession(randomUUID());
      await until('the event arrives', () => app.get(TesseraVerifier).feedPosition === lastId);
      tessera.refuseWith = 503;
      tessera.dropConnections();
      const attempts = tessera.lastEventIds.length;
      tessera.revokeSession(sid);
      await new Promise((resolve) => setTimeout(resolve, 300));
      tessera.refuseWith = undefined;
      await until('it reconnects after the errors', () => tessera.lastEventIds.length > attempts);
      expect(tessera.lastEventIds.at(-1)).toBe(lastId);
      await until('the revocation is applied', async () => (await call(app, '/protected', token)).status === 401);
    });
  });

  describe('staleness', () => {
    it('answers 503 until the first connection has caught up; public routes always work', async () => {
      tessera.holdReplay = true;
      const sid = randomUUID();
      tessera.revokeSession(sid);
      app = await startService(tessera, {}, false);
      const token = await mint(key, { sid });
      const valid = await mint(key);
      await until('connected', () => tessera.lastEventIds.length === 1);
      const res = await call(app, '/protected', valid);
      expect(res.status).toBe(503);
      expect(res.body.code).toBe('service_unavailable');
      expect(res.headers['retry-after']).toBeDefined();
      expect((await call(app, '/public')).status).toBe(200);
      tessera.releaseReplay();
      await until('caught up', async () => (await call(app, '/protected', valid)).status === 200);
      // The replay was applied before the first answer.
      expect((await call(app, '/protected', token)).body.code).toBe('session_revoked');
    });

    it('keeps serving while the feed is lost up to maxStaleness, then 503 until reconnected and caught up', async () => {
      app = await startService(tessera, { maxStalenessMs: 3000, feedWatchdogMs: 600 });
      const token = await mint(key);
      const sid = randomUUID();
      const revoked = await mint(key, { sid });
      expect((await call(app, '/protected', token)).status).toBe(200);
      tessera.silent = true; // no heartbeat, no byte: the watchdog drops the connection
      tessera.holdReplay = true; // and the new connections do not catch up
      expect((await call(app, '/protected', token)).status).toBe(200);
      tessera.revokeSession(sid); // made while the feed is lost
      await until('stale: 503', async () => (await call(app, '/protected', token)).status === 503);
      const lostFor = app.get(TesseraVerifier).status().feedLostForMs!;
      expect(lostFor).toBeGreaterThan(3000); // not before maxStaleness
      expect((await call(app, '/public')).status).toBe(200);
      tessera.silent = false;
      await until('reconnected', () => tessera.lastEventIds.length >= 2);
      // Connected but not caught up: still 503.
      expect((await call(app, '/protected', token)).status).toBe(503);
      tessera.releaseReplay();
      await until('recovered', async () => (await call(app, '/protected', token)).status === 200);
      expect((await call(app, '/protected', revoked)).body.code).toBe('session_revoked');
    });

    it('after `event: reset` keeps what it had and reads everything kept before serving again', async () => {
      app = await startService(tessera);
      const kept = randomUUID();
      const earlier = randomUUID();
      const earlierToken = await mint(key, { sid: earlier });
      const keptToken = await mint(key, { sid: kept });
      const id = tessera.revokeSession(earlier);
      await until('event applied', () => app.get(TesseraVerifier).feedPosition === id);
      tessera.silent = true;
      tessera.dropConnections();
      tessera.forgetAll(); // our position is no longer kept…
      tessera.revokeSession(kept); // …and this one was published meanwhile
      tessera.silent = false;
      await until('replayed after the reset', async () => (await call(app, '/protected', keptToken)).status === 401);
      expect((await call(app, '/protected', earlierToken)).body.code).toBe('session_revoked');
      expect((await call(app, '/protected', await mint(key))).status).toBe(200);
    });
  });

  describe('decorators', () => {
    beforeEach(async () => {
      app = await startService(tessera);
    });

    it('@Auth(role): 403 forbidden without it, 200 with it', async () => {
      expect((await call(app, '/admin', await mint(key, { roles: ['reader'] }))).body.code).toBe('forbidden');
      expect((await call(app, '/admin', await mint(key, { roles: ['admin'] }))).status).toBe(200);
    });

    it('@RecentAuth(): 401 reauthentication_required with WWW-Authenticate for an old proof or a weak one', async () => {
      const now = Math.floor(Date.now() / 1000);
      const old = await call(app, '/recent', await mint(key, { authTime: now - 120 }));
      expect(old.status).toBe(401);
      expect(old.body.code).toBe('reauthentication_required');
      expect(old.headers['www-authenticate']).toBe('Bearer error="insufficient_user_authentication", max_age=60');
      expect((await call(app, '/recent', await mint(key, { authTime: now - 5 }))).status).toBe(200);
      const weak = await call(app, '/recent-aal2', await mint(key, { authTime: now - 5 }));
      expect(weak.headers['www-authenticate']).toBe(
        'Bearer error="insufficient_user_authentication", max_age=60, acr_values="urn:tessera:aal2"',
      );
      const strong = await mint(key, { authTime: now - 5, acr: 'urn:tessera:aal2', amr: ['pwd', 'otp', 'mfa'] });
      expect((await call(app, '/recent-aal2', strong)).status).toBe(200);
    });

    it('@RecentAuth() refuses an invalid maxAge at start-up', () => {
      expect(() => RecentAuth('soon')).toThrow(/maxAge/);
      expect(() => RecentAuth(0)).toThrow(/maxAge/);
    });
  });

  describe("the passport strategy 'tessera'", () => {
    beforeEach(async () => {
      app = await startService(tessera);
    });

    it('verifies through the same verifier: user, revocation, problems, roles', async () => {
      const sid = randomUUID();
      const sub = randomUUID();
      const token = await mint(key, { sid, sub });
      const ok = await call(app, '/passport', token);
      expect(ok.status).toBe(200);
      expect(ok.body.id).toBe(sub);
      expect((await call(app, '/passport')).body.code).toBe('missing_token');
      expect((await call(app, '/passport', 'x.y.z')).body.code).toBe('invalid_token');
      expect((await call(app, '/passport-admin', token)).body.code).toBe('forbidden');
      tessera.revokeSession(sid);
      await until('revoked', async () => (await call(app, '/passport', token)).status === 401);
      expect((await call(app, '/passport', token)).body.code).toBe('session_revoked');
    });
  });

  describe('forRootAsync', () => {
    it('takes its options from a factory', async () => {
      @Module({
        imports: [
          TesseraVerifierModule.forRootAsync({
            useFactory: () => ({ tesseraUrl: tessera.url, clientId: CLIENT_ID, clientSecret: CLIENT_SECRET, logger: quiet }),
          }),
        ],
        controllers: [RoutesController],
        providers: [TesseraStrategy],
      })
      class AsyncModule {}
      const moduleRef = await Test.createTestingModule({ imports: [AsyncModule] }).compile();
      app = moduleRef.createNestApplication<NestFastifyApplication>(new FastifyAdapter(), { logger: false });
      await app.listen(0, '127.0.0.1');
      await app.get(TesseraVerifier).ready();
      expect((await call(app, '/protected', await mint(key))).status).toBe(200);
      expect((await call(app, '/protected')).status).toBe(401);
    });
  });
});
