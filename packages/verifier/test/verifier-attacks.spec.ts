import { afterEach, beforeAll, beforeEach, describe, expect, it, jest } from '@jest/globals';
import { Controller, Get, type INestApplication, Module } from '@nestjs/common';
import { Test } from '@nestjs/testing';
import { FastifyAdapter, type NestFastifyApplication } from '@nestjs/platform-fastify';
import { exportJWK, generateKeyPair, SignJWT } from 'jose';
import { randomUUID } from 'node:crypto';
import {
  Auth,
  type AuthenticatedUser,
  CurrentUser,
  TesseraVerifier,
  TesseraVerifierModule,
  type TesseraVerifierOptions,
} from '@tessera/verifier';
import { AUDIENCE, CLIENT_ID, CLIENT_SECRET, FakeTessera, ISSUER, mint, newKey, type SigningKey } from './fake-tessera.js';

/**
 * Attacks on @tessera/verifier. Each test asserts the secure behaviour; the comment on each says
 * the attack and its impact.
 */

async function until(what: string, check: () => boolean | Promise<boolean>, timeoutMs = 15_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for: ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
}
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

@Controller()
class RoutesController {
  @Auth()
  @Get('protected')
  protected(@CurrentUser() user: AuthenticatedUser) {
    return user;
  }
}

const quiet = { log: () => undefined, warn: () => undefined, error: () => undefined };

async function startService(tessera: FakeTessera, overrides: Partial<TesseraVerifierOptions> = {}) {
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
  })
  class ServiceModule {}
  const moduleRef = await Test.createTestingModule({ imports: [ServiceModule] }).compile();
  const app = moduleRef.createNestApplication<NestFastifyApplication>(new FastifyAdapter(), { logger: false });
  await app.listen(0, '127.0.0.1');
  await app.get(TesseraVerifier).ready();
  return app;
}

async function call(app: INestApplication, path: string, token?: string) {
  const response = await fetch(`${await app.getUrl()}${path}`, {
    headers: token === undefined ? {} : { authorization: `Bearer ${token}` },
  });
  const text = await response.text();
  return { status: response.status, body: text ? (JSON.parse(text) as { code?: string }) : undefined };
}

const b64 = (o: unknown) => Buffer.from(JSON.stringify(o)).toString('base64url');
const claims = () => {
  const now = Math.floor(Date.now() / 1000);
  return {
    sub: randomUUID(),
    sid: randomUUID(),
    jti: randomUUID(),
    roles: ['admin'],
    iat: now,
    exp: now + 60,
    iss: ISSUER,
    aud: AUDIENCE,
    auth_time: now,
    amr: ['pwd'],
    acr: 'urn:tessera:aal1',
  };
};

describe('@tessera/verifier under attack', () => {
  let tessera: FakeTessera;
  let key: SigningKey;
  let app: INestApplication | undefined;

  beforeAll(async () => {
    key = await newKey();
  });
  beforeEach(async () => {
    tessera = new FakeTessera();
    tessera.keys = [key];
    await tessera.start();
  });
  afterEach(async () => {
    jest.restoreAllMocks();
    await app?.close();
    app = undefined;
    await tessera.stop();
  });

  describe('forged tokens (regressions: these pass today)', () => {
    beforeEach(async () => {
      app = await startService(tessera);
    });

    // alg confusion / header-supplied keys: a token naming a known kid but `alg: none`, or carrying
    // its own key (`jwk`), or pointing at one (`jku`, `x5u`), must never be verified with that key.
    it('refuses alg none, an embedded jwk, jku and x5u headers (all naming the real kid)', async () => {
      const attacker = await generateKeyPair('ES256', { extractable: true });
      const attackerJwk = await exportJWK(attacker.publicKey);
      const c = claims();
      const none = `${b64({ alg: 'none', typ: 'at+jwt', kid: key.kid })}.${b64(c)}.`;
      const signWith = (header: Record<string, unknown>) =>
        new SignJWT(c).setProtectedHeader({ alg: 'ES256', typ: 'at+jwt', ...header }).sign(attacker.privateKey);
      for (const token of [
        none,
        await signWith({ kid: key.kid, jwk: attackerJwk }),
        await signWith({ kid: key.kid, jku: 'http://127.0.0.1:1/jwks.json' }),
        await signWith({ kid: key.kid, x5u: 'http://127.0.0.1:1/cert.pem' }),
        await signWith({ jwk: attackerJwk }),
      ]) {
        const res = await call(app!, '/protected', token);
        expect(res.status).toBe(401);
        expect(res.body?.code).toBe('invalid_token');
      }
    });

    // kid injection: kids that are paths, prototype names or huge must not crash or match anything.
    it.each([
      ['a path', '../../../../dev/null'],
      ['__proto__', '__proto__'],
      ['constructor', 'constructor'],
      ['toString', 'toString'],
      ['empty', ''],
      ['6000 chars', 'x'.repeat(6000)],
      ['SQL', "' OR 1=1 --"],
    ])('refuses a kid that is %s with 401', async (_label, kid) => {
      const attacker = await generateKeyPair('ES256');
      const token = await new SignJWT(claims()).setProtectedHeader({ alg: 'ES256', typ: 'at+jwt', kid }).sign(attacker.privateKey);
      const res = await call(app!, '/protected', token);
      expect(res.status).toBe(401);
    });

    // Non-string kids (objects, arrays, numbers) must be refused, not coerced.
    it.each([{ kid: 1 }, { kid: ['a'] }, { kid: { toString: 'x' } }, { kid: null }])('refuses header %p with 401', async (header) => {
      const token = `${b64({ alg: 'ES256', typ: 'at+jwt', ...header })}.${b64(claims())}.AAAA`;
      expect((await call(app!, '/protected', token)).status).toBe(401);
    });

    // Missing claims: a correctly signed token without sid / jti / iat / exp must be refused.
    it.each(['sid', 'jti', 'iat', 'exp', 'sub', 'roles'])('refuses a genuine-key token without %s', async (claim) => {
      const c: Record<string, unknown> = claims();
      delete c[claim];
      const token = await new SignJWT(c).setProtectedHeader({ alg: 'ES256', typ: 'at+jwt', kid: key.kid }).sign(key.privateKey);
      expect((await call(app!, '/protected', token)).status).toBe(401);
    });

    // Tokens from another issuer/audience in an array, or a nested typ, must be refused.
    it('refuses an audience array not naming this API, and typ "AT+JWT"/"application/at+jwt"-ish spoofs', async () => {
      expect((await call(app!, '/protected', await mint(key, { aud: 'other' }))).status).toBe(401);
      expect((await call(app!, '/protected', await mint(key, { typ: 'JWT' }))).status).toBe(401);
    });

    // JWKS refetch abuse: a flood of unknown kids must cost Tessera at most one JWKS fetch per cooldown
    // (1 s by default). The first unknown kid fetches at once; those arriving later wait for the next
    // fetch, which they share (a genuine new key must not be locked out by a forged kid: see below).
    it('a flood of unknown kids costs at most one JWKS fetch per cooldown', async () => {
      const before = tessera.jwksFetches;
      const started = performance.now();
      await Promise.all(
        Array.from({ length: 50 }, async () => {
          const token = `${b64({ alg: 'ES256', typ: 'at+jwt', kid: randomUUID() })}.${b64(claims())}.AAAA`;
          expect((await call(app!, '/protected', token)).status).toBe(401);
        }),
      );
      // One at once, then one per started second (the flood itself takes well under one: 2 in practice).
      expect(tessera.jwksFetches - before).toBeLessThanOrEqual(1 + Math.ceil((performance.now() - started) / 1000));
    });

    // A huge token (header limits aside) must be 401/431, never 500.
    it('answers a huge token without a 500', async () => {
      const token = `${b64({ alg: 'ES256', typ: 'at+jwt', kid: key.kid, pad: 'x'.repeat(12_000) })}.${b64(claims())}.AAAA`;
      expect((await call(app!, '/protected', token)).status).toBeLessThan(500);
    });
  });

  // DoS around a key rotation: the unknown-kid refetch cooldown is global, so one forged token with
  // a random kid, sent just before Tessera starts signing with a new key (Tessera does not publish
  // keys ahead of use), uses up the refetch; every genuine token with the new kid is then refused
  // (401, clients log users out) for up to jwksRefetchCooldownMs (10 s by default), on every
  // instance the attacker pinged. A kid seen in a token whose JWKS fetch predates the kid's first
  // sighting could be allowed one more fetch (or refetch in the background and retry once).
  it('a forged unknown kid just before a rotation does not lock out tokens of the new key', async () => {
    app = await startService(tessera);
    const junk = `${b64({ alg: 'ES256', typ: 'at+jwt', kid: randomUUID() })}.${b64(claims())}.AAAA`;
    expect((await call(app, '/protected', junk)).status).toBe(401);
    const next = await newKey();
    tessera.keys = [key, next];
    expect((await call(app, '/protected', await mint(next))).status).toBe(200);
  });

  // FAIL OPEN on a backwards clock jump: staleness is measured with Date.now(). When the wall clock
  // steps back (NTP correction, VM restore) while the feed is lost, `now - lastHealthyAt` is
  // negative, so the verifier believes its revocations are fresh for as long as the jump: revoked
  // sessions keep working on this service for that long (an hour here). Measure staleness with a
  // monotonic clock (performance.now() / process.hrtime) instead.
  it('stays 503 while the feed is lost even when the wall clock jumps back', async () => {
    app = await startService(tessera);
    const token = await mint(key);
    expect((await call(app, '/protected', token)).status).toBe(200);
    tessera.silent = true;
    tessera.holdReplay = true;
    await until('stale: 503', async () => (await call(app!, '/protected', token)).status === 503);
    const realNow = Date.now.bind(Date);
    jest.spyOn(Date, 'now').mockImplementation(() => realNow() - 3_600_000);
    const res = await call(app, '/protected', token);
    jest.restoreAllMocks();
    expect(res.status).toBe(503);
  });

  // FAIL OPEN when feedWatchdogMs > maxStalenessMs (both are options; nothing checks them against
  // each other): a connection that stays open but goes silent (a stuck proxy, a Tessera whose feed
  // stopped) still counts as "healthy" until the watchdog fires, so revocations made meanwhile are
  // not applied and requests are served far beyond maxStalenessMs. Either freshness should also
  // require a recent byte while connected, or resolveOptions should refuse watchdog > staleness.
  it('a silent-but-open feed connection is stale after maxStalenessMs, whatever the watchdog', async () => {
    app = await startService(tessera, { maxStalenessMs: 1000, feedWatchdogMs: 20_000 });
    const sid = randomUUID();
    const token = await mint(key, { sid });
    expect((await call(app, '/protected', token)).status).toBe(200);
    tessera.silent = true;
    tessera.revokeSession(sid); // never reaches the verifier
    await sleep(2500); // well past maxStalenessMs (a lower bound: a slower machine only makes it staler)
    const res = await call(app, '/protected', token);
    // Fixed twice: freshness needs a recent byte even while connected (503), and the watchdog is
    // clamped to maxStalenessMs, so the silent connection is replaced and the replay may already have
    // delivered the revocation (401 session_revoked). Either way the session is not served.
    // (test/revocation-feed-staleness.spec.ts checks the connected-but-silent case without the clamp.)
    expect(res.status === 503 || res.body?.code === 'session_revoked').toBe(true);
  });

  // FAIL OPEN on an event this version cannot read: the feed skips it with a warning but still
  // advances Last-Event-ID past it, so a revocation in a shape it does not understand (a newer
  // Tessera's event type, or `until` sent as a string) is lost for good and the session keeps
  // working here. A revocation event that cannot be applied should make the verifier stop trusting
  // its set (503 / stay on that position), not silently drop it.
  it('a revocation event it cannot parse does not leave the session working', async () => {
    app = await startService(tessera);
    const sid = randomUUID();
    const token = await mint(key, { sid });
    expect((await call(app, '/protected', token)).status).toBe(200);
    tessera.publish({ type: 'session', sid, sub: 'someone', until: String(Math.floor(Date.now() / 1000) + 900) });
    const marker = randomUUID();
    tessera.revokeSession(marker);
    const markerToken = await mint(key, { sid: marker });
    await until('the next event was applied', async () => (await call(app!, '/protected', markerToken)).status !== 200);
    expect((await call(app, '/protected', token)).status).not.toBe(200);
  });

  // Defence in depth: a `session` event whose `until` is already past (a Tessera bug, a replay
  // of an old event after `reset`, a skewed clock on the instance that computed it) is pruned at
  // once, after which the session's tokens (still within their own exp) are accepted again. The
  // entry should be kept at least until every token the verifier accepts could have expired
  // (received + maxTokenLifetime + tolerance), whatever `until` says.
  it('a session event with `until` in the past still refuses that session after pruning', async () => {
    app = await startService(tessera);
    const sid = randomUUID();
    const token = await mint(key, { sid });
    expect((await call(app, '/protected', token)).status).toBe(200);
    tessera.revokeSession(sid, 'someone', Math.floor(Date.now() / 1000) - 60);
    await until('revoked', async () => (await call(app!, '/protected', token)).status === 401);
    // The verifier prunes every 10 s; prune now rather than wait.
    const verifier: unknown = app.get(TesseraVerifier);
    (verifier as { revocations: { prune(): void } }).revocations.prune();
    expect((await call(app, '/protected', token)).body?.code).toBe('session_revoked');
  });
});
