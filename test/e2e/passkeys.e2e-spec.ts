import { afterAll, beforeAll, describe, expect, test } from '@jest/globals';
import { eq } from 'drizzle-orm';
import { Secret, TOTP } from 'otpauth';
import { createClient } from 'redis';
import type { SecurityEventType } from '../../src/audit/security-event.js';
import { SecurityEventsRepository } from '../../src/audit/security-events.repository.js';
import { TotpService } from '../../src/auth/mfa/totp.service.js';
import { PasskeysService } from '../../src/auth/passkeys/passkeys.service.js';
import { DATABASE, type Database } from '../../src/database/database.js';
import { users } from '../../src/database/schema.js';
import { ServerSecrets } from '../../src/secrets/server-secrets.js';
import { MemoryTicketStore, TICKET_STORE, type TicketStore } from '../../src/tickets/ticket-store.js';
import { UsersService } from '../../src/users/users.service.js';
import { bearer, PASSWORD, registerAndLogin, startApp, type TestApp } from '../support/app.js';
import { SoftwareAuthenticator } from '../support/software-authenticator.js';

/*
 * Passkeys over the API, with a software authenticator (test/support/software-authenticator.ts)
 * standing in for browser and authenticator: registration, passwordless login, reauthentication,
 * management, and every way a response can be wrong.
 */
const ORIGIN = 'http://localhost:3000';
const SAME_SITE_FRONT_END = 'http://app.localhost:5173';
const OTHER_SITE_FRONT_END = 'https://other.example';
const MAX_AGE = 3;
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
const claimsOf = (jwt: string) => JSON.parse(Buffer.from(jwt.split('.')[1], 'base64url').toString()) as Record<string, unknown>;
type Json = Record<string, unknown>;
type User = Awaited<ReturnType<typeof registerAndLogin>>;

describe('passkeys', () => {
  let t: TestApp;
  const redis = process.env.REDIS_URL ? createClient({ url: process.env.REDIS_URL }) : undefined;

  beforeAll(async () => {
    t = await startApp({
      PUBLIC_ORIGIN: ORIGIN,
      CORS_ORIGINS: `${SAME_SITE_FRONT_END},${OTHER_SITE_FRONT_END}`,
      REAUTH_MAX_AGE: `${MAX_AGE}s`,
    });
    await redis?.connect();
  });
  afterAll(async () => {
    await redis?.close();
    await t.close();
  });

  /**
   * Creation options for the user. An account that already has a passkey needs two factors' proof
   * to add another (401 with acr_values): then the user steps up with a user-verifying passkey it
   * registered earlier, and keeps the aal2 token.
   */
  const registrationOptions = async (user: User): Promise<Json> => {
    const first = await t.http().post('/auth/passkeys/registration/options').set(bearer(user.accessToken));
    if (first.status !== 401) {
      expect(first.status).toBe(200);
      return first.body as Json;
    }
    expect(first.body.code).toBe('reauthentication_required');
    const holder = SoftwareAuthenticator.holding(Buffer.from(user.userId).toString('base64url'));
    if (!holder) throw new Error('the account needs aal2 to add a passkey, and no user-verifying passkey of it is known');
    const options = (await t.http().post('/auth/reauthenticate/options').set(bearer(user.accessToken)).expect(200)).body as Json;
    const stepped = await t
      .http()
      .post('/auth/reauthenticate')
      .set(bearer(user.accessToken))
      .send({ response: holder.assert(options) });
    expect(stepped.status).toBe(200);
    user.accessToken = stepped.body.accessToken as string;
    return (await t.http().post('/auth/passkeys/registration/options').set(bearer(user.accessToken)).expect(200)).body as Json;
  };
  const loginOptions = async (): Promise<Json> => (await t.http().post('/auth/passkeys/login/options').expect(200)).body as Json;
  const reauthOptions = async (user: { accessToken: string }): Promise<Json> =>
    (await t.http().post('/auth/reauthenticate/options').set(bearer(user.accessToken)).expect(200)).body as Json;
  const addPasskey = (user: User, response: Json, name?: string) =>
    t.http().post('/auth/passkeys').set(bearer(user.accessToken)).send({ response, name });
  const passkeyLogin = (response: Json, client?: 'native') => t.http().post('/auth/passkeys/login').send({ response, client });
  /** The TicketStore key of a challenge (an HMAC under SERVER_SECRETS, as PasskeysService makes it). */
  const ticketKeyOf = (challenge: string) => `wa:${t.app.get(ServerSecrets).for('webauthn-challenge').mac(challenge, 32)}`;
  /** The memory TicketStore's tickets (without REDIS_URL). */
  const memoryTickets = () => {
    const store = t.app.get<TicketStore>(TICKET_STORE);
    if (!(store instanceof MemoryTicketStore)) throw new Error('not the memory store');
    return (store as unknown as { tickets: Map<string, { value: string; expiresAt: number }> }).tickets;
  };
  const events = (userId: string, type: SecurityEventType) => t.app.get(SecurityEventsRepository).list({ userId, type }, 20);

  /** A user with one registered passkey of a fresh authenticator. */
  async function userWithPasskey(flags: ConstructorParameters<typeof SoftwareAuthenticator>[1] = {}) {
    const user = await registerAndLogin(t);
    const authenticator = new SoftwareAuthenticator(ORIGIN, flags);
    const added = await addPasskey(user, authenticator.register(await registrationOptions(user)), 'Laptop');
    if (added.status !== 201) console.log(added.body);
    expect(added.status).toBe(201);
    return { user, authenticator, passkey: added.body as Json };
  }

  describe('registration', () => {
    test('options: a discoverable credential, user verification preferred, the RP of PUBLIC_ORIGIN, the existing passkeys excluded', async () => {
      const { user, authenticator } = await userWithPasskey();
      const options = await registrationOptions(user);
      expect(options).toMatchObject({
        rp: { id: 'localhost', name: 'Tessera' },
        user: { id: Buffer.from(user.userId).toString('base64url'), name: user.email },
        attestation: 'none',
        authenticatorSelection: { residentKey: 'required', requireResidentKey: true, userVerification: 'preferred' },
        excludeCredentials: [{ id: authenticator.credentialId, type: 'public-key', transports: ['internal'] }],
      });
      expect(options.challenge).toMatch(/^[A-Za-z0-9_-]{43}$/);
    });

    test('201 with the passkey, listed for its owner only, recorded as passkey.added', async () => {
      const { user, authenticator, passkey } = await userWithPasskey();
      expect(passkey).toEqual({
        id: authenticator.credentialId,
        name: 'Laptop',
        createdAt: expect.any(String),
        lastUsedAt: null,
        backedUp: false,
      });
      const list = await t.http().get('/auth/passkeys').set(bearer(user.accessToken)).expect(200);
      expect(list.body).toEqual([passkey]);
      const other = await registerAndLogin(t);
      expect((await t.http().get('/auth/passkeys').set(bearer(other.accessToken)).expect(200)).body).toEqual([]);
      const [added] = await events(user.userId, 'passkey.added');
      expect(added).toMatchObject({
        outcome: 'success',
        sessionId: user.sessionId,
        details: { credentialId: authenticator.credentialId, backedUp: false },
      });
    });

    test('the name defaults to "Passkey"; a backed-up credential says so', async () => {
      const user = await registerAndLogin(t);
      const authenticator = new SoftwareAuthenticator(ORIGIN, { be: true, bs: true });
      const added = await addPasskey(user, authenticator.register(await registrationOptions(user))).expect(201);
      expect(added.body).toMatchObject({ name: 'Passkey', backedUp: true });
    });

    test('a challenge is used once, and only by the user it was made for', async () => {
      const user = await registerAndLogin(t);
      const options = await registrationOptions(user);
      await addPasskey(user, new SoftwareAuthenticator(ORIGIN).register(options)).expect(201);
      // Now with a passkey, the account adds another only at aal2: step up (with new options), then replay the old ones.
      await registrationOptions(user);
      const replayed = await addPasskey(user, new SoftwareAuthenticator(ORIGIN).register(options)).expect(400);
      expect(replayed.body.code).toBe('passkey_not_verified');
      const other = await registerAndLogin(t);
      await addPasskey(other, new SoftwareAuthenticator(ORIGIN).register(await registrationOptions(user))).expect(400);
    });

    test('a challenge of a login is no registration challenge', async () => {
      const user = await registerAndLogin(t);
      const options = await registrationOptions(user);
      const login = await loginOptions();
      const response = new SoftwareAuthenticator(ORIGIN).register(options, { challenge: login.challenge as string });
      expect((await addPasskey(user, response).expect(400)).body.code).toBe('passkey_not_verified');
    });

    test.each([
      ['another origin', { origin: 'http://evil.localhost:3000' }],
      ['a front end of another site in CORS_ORIGINS', { origin: OTHER_SITE_FRONT_END }],
      ['another RP ID', { rpId: 'evil.example' }],
      ['an assertion type', { type: 'webauthn.get' }],
    ])('%s: 400 passkey_not_verified', async (_label, overrides) => {
      const user = await registerAndLogin(t);
      const response = new SoftwareAuthenticator(ORIGIN).register(await registrationOptions(user), overrides);
      expect((await addPasskey(user, response).expect(400)).body.code).toBe('passkey_not_verified');
    });

    test('a front end on the same site (CORS_ORIGINS) may register', async () => {
      const user = await registerAndLogin(t);
      await addPasskey(user, new SoftwareAuthenticator(SAME_SITE_FRONT_END).register(await registrationOptions(user))).expect(201);
    });

    test('the same credential twice: 409 passkey_exists, also on another account', async () => {
      const { user, authenticator } = await userWithPasskey();
      const again = await addPasskey(user, authenticator.register(await registrationOptions(user))).expect(409);
      expect(again.body.code).toBe('passkey_exists');
      const other = await registerAndLogin(t);
      await addPasskey(other, authenticator.register(await registrationOptions(other))).expect(409);
    });

    test.each([
      ['not an object', 'hello'],
      ['no id', { rawId: 'abc', type: 'public-key', response: {} }],
      [
        'id and rawId differ',
        { id: 'abc', rawId: 'abd', type: 'public-key', response: { clientDataJSON: 'e30', attestationObject: 'oA' } },
      ],
      [
        'garbage in base64url',
        { id: 'abc', rawId: 'abc', type: 'public-key', response: { clientDataJSON: 'e30', attestationObject: 'oA' } },
      ],
    ])('malformed response (%s): 400, never 500', async (_label, response) => {
      const user = await registerAndLogin(t);
      await registrationOptions(user);
      const answer = await t.http().post('/auth/passkeys').set(bearer(user.accessToken)).send({ response });
      expect([400]).toContain(answer.status);
      expect(['validation_failed', 'passkey_not_verified']).toContain(answer.body.code);
    });

    test('options need a recent authentication', async () => {
      const user = await registerAndLogin(t);
      await sleep((MAX_AGE + 1.5) * 1000);
      const answer = await t.http().post('/auth/passkeys/registration/options').set(bearer(user.accessToken)).expect(401);
      expect(answer.body.code).toBe('reauthentication_required');
    });
  });

  describe('login', () => {
    test('options: the RP, no allowCredentials, user verification preferred', async () => {
      const options = await loginOptions();
      expect(options).toMatchObject({ rpId: 'localhost', allowCredentials: [], userVerification: 'preferred' });
    });

    test('a user-verified passkey: the normal login response, amr hwk+user+mfa at aal2; the counter and last use are stored', async () => {
      const { user, authenticator } = await userWithPasskey();
      const login = await passkeyLogin(authenticator.assert(await loginOptions())).expect(200);
      expect(login.headers['set-cookie']).toEqual(expect.arrayContaining([expect.stringMatching(/^(__Secure-)?refresh_token=/)]));
      expect(login.body.refreshToken).toBeUndefined();
      const claims = claimsOf(login.body.accessToken);
      expect(claims).toMatchObject({ sub: user.userId, amr: ['hwk', 'user', 'mfa'], acr: 'urn:tessera:aal2' });
      await t.http().get('/users/me').set(bearer(login.body.accessToken)).expect(200);
      const [listed] = (await t.http().get('/auth/passkeys').set(bearer(login.body.accessToken)).expect(200)).body as Json[];
      expect(listed.lastUsedAt).toEqual(expect.any(String));
      const [succeeded] = await events(user.userId, 'login.succeeded');
      expect(succeeded.details).toMatchObject({ method: 'passkey', amr: ['hwk', 'user', 'mfa'], acr: 'urn:tessera:aal2' });
    });

    test('without user verification: hwk alone, aal1; a backed-up passkey: swk', async () => {
      const plain = await userWithPasskey({ uv: false });
      const login = await passkeyLogin(plain.authenticator.assert(await loginOptions())).expect(200);
      expect(claimsOf(login.body.accessToken)).toMatchObject({ amr: ['hwk'], acr: 'urn:tessera:aal1' });
      const synced = await userWithPasskey({ be: true, bs: true });
      const native = await passkeyLogin(synced.authenticator.assert(await loginOptions()), 'native').expect(200);
      expect(claimsOf(native.body.accessToken)).toMatchObject({ amr: ['swk', 'user', 'mfa'], acr: 'urn:tessera:aal2' });
      expect(native.body.refreshToken).toEqual(expect.any(String));
      expect(native.headers['set-cookie']).toBeUndefined();
    });

    test('an authenticator without a counter (always 0) keeps working', async () => {
      const { authenticator } = await userWithPasskey({ countless: true });
      await passkeyLogin(authenticator.assert(await loginOptions())).expect(200);
      await passkeyLogin(authenticator.assert(await loginOptions())).expect(200);
    });

    test('a replayed response is refused (the challenge is used up), recorded as login.failed', async () => {
      const { user, authenticator } = await userWithPasskey();
      const response = authenticator.assert(await loginOptions());
      await passkeyLogin(response).expect(200);
      const replayed = await passkeyLogin(response).expect(401);
      expect(replayed.body.code).toBe('invalid_passkey');
      const [failed] = await events(user.userId, 'login.failed');
      expect(failed.details).toMatchObject({ reason: 'unknown_challenge' });
    });

    test('a counter that goes back is refused as counter_regressed, even with a fresh challenge', async () => {
      const { user, authenticator } = await userWithPasskey();
      await passkeyLogin(authenticator.assert(await loginOptions(), { counter: 5 })).expect(200);
      for (const counter of [5, 4]) {
        const answer = await passkeyLogin(authenticator.assert(await loginOptions(), { counter })).expect(401);
        expect(answer.body.code).toBe('invalid_passkey');
      }
      const failures = await events(user.userId, 'login.failed');
      expect(failures.map((e) => e.details.reason)).toEqual(['counter_regressed', 'counter_regressed']);
      await passkeyLogin(authenticator.assert(await loginOptions(), { counter: 6 })).expect(200);
    });

    test('an expired challenge is refused (its ticket lives 5 minutes)', async () => {
      const { authenticator } = await userWithPasskey();
      const options = await loginOptions();
      const key = ticketKeyOf(options.challenge as string);
      // Instead of waiting 5 minutes: check the lifetime, then end it now (Redis: PEXPIRE; memory: its expiry).
      if (redis) {
        const ttl = await redis.ttl(`tk:{${key}}`);
        expect(ttl).toBeGreaterThan(280);
        expect(ttl).toBeLessThanOrEqual(300);
        await redis.pExpire(`tk:{${key}}`, 1);
        while ((await redis.exists(`tk:{${key}}`)) === 1) await sleep(5);
      } else {
        const ticket = memoryTickets().get(key)!;
        expect(ticket.expiresAt - Date.now()).toBeGreaterThan(280_000);
        expect(ticket.expiresAt - Date.now()).toBeLessThanOrEqual(300_000);
        ticket.expiresAt = Date.now() - 1;
      }
      await passkeyLogin(authenticator.assert(options)).expect(401);
    });

    test('a challenge of another purpose (registration, reauthentication) does not log in', async () => {
      const { user, authenticator } = await userWithPasskey();
      const registration = await registrationOptions(user);
      await passkeyLogin(authenticator.assert(await loginOptions(), { challenge: registration.challenge as string })).expect(401);
      const reauth = await reauthOptions(user);
      await passkeyLogin(authenticator.assert(reauth)).expect(401);
      const reasons = (await events(user.userId, 'login.failed')).map((e) => e.details.reason);
      expect(reasons).toEqual(['wrong_challenge', 'wrong_challenge']);
    });

    test.each([
      ['another origin', { origin: 'http://evil.localhost:3000' }],
      ['another RP ID', { rpId: 'evil.example' }],
      ['a registration type', { type: 'webauthn.create' }],
    ])('%s: 401 invalid_passkey', async (_label, overrides) => {
      const { authenticator } = await userWithPasskey();
      await passkeyLogin(authenticator.assert(await loginOptions(), overrides)).expect(401);
    });

    test('an unknown credential, a bad signature, a foreign user handle: 401 invalid_passkey', async () => {
      const stranger = new SoftwareAuthenticator(ORIGIN);
      await passkeyLogin(stranger.assert(await loginOptions())).expect(401);
      const { authenticator } = await userWithPasskey();
      const forged = authenticator.assert(await loginOptions());
      const signed = stranger.assert({ ...(await loginOptions()), rpId: 'localhost' });
      (forged.response as Json).signature = (signed.response as Json).signature;
      await passkeyLogin(forged).expect(401);
      const other = await userWithPasskey();
      const wrongHandle = authenticator.assert(await loginOptions());
      (wrongHandle.response as Json).userHandle = other.authenticator.userHandle;
      await passkeyLogin(wrongHandle).expect(401);
    });

    test('without user presence: refused', async () => {
      const { authenticator } = await userWithPasskey();
      authenticator.flags.up = false;
      await passkeyLogin(authenticator.assert(await loginOptions())).expect(401);
    });

    test('malformed bodies: 400, never 500', async () => {
      for (const body of [
        {},
        { response: 'x' },
        { response: { id: 'a', rawId: 'a', type: 'public-key', response: { clientDataJSON: '!!' } } },
      ]) {
        expect((await t.http().post('/auth/passkeys/login').send(body)).status).toBe(400);
      }
      const garbage = {
        id: 'abc',
        rawId: 'abc',
        type: 'public-key',
        response: { clientDataJSON: 'e30', authenticatorData: 'AA', signature: 'AA' },
      };
      expect((await passkeyLogin(garbage)).status).toBe(401);
    });

    test('a disabled account cannot log in with its passkey', async () => {
      const { user, authenticator } = await userWithPasskey();
      await t.app.get(UsersService).update(user.userId, { disabled: true });
      await passkeyLogin(authenticator.assert(await loginOptions())).expect(401);
      const [failed] = await events(user.userId, 'login.failed');
      expect(failed.details).toMatchObject({ reason: 'disabled' });
    });

    test('nothing of a challenge rests in the clear in Redis (or the memory store)', async () => {
      const { user } = await userWithPasskey();
      const challenges = [(await loginOptions()).challenge, (await registrationOptions(user)).challenge, await reauthOptionsOrNone(user)];
      let dump: string;
      if (redis) {
        const keys: string[] = [];
        for await (const batch of redis.scanIterator({ MATCH: 'tk:*', COUNT: 1000 })) keys.push(...batch);
        expect(keys).toContain(`tk:{${ticketKeyOf(challenges[0] as string)}}`);
        dump = JSON.stringify(await Promise.all(keys.map(async (k) => [k, await redis.hGetAll(k)])));
      } else {
        expect(memoryTickets().has(ticketKeyOf(challenges[0] as string))).toBe(true);
        dump = JSON.stringify([...memoryTickets()]);
      }
      expect(challenges.every(Boolean)).toBe(true);
      for (const challenge of challenges) expect(dump).not.toContain(challenge);
    });
    const reauthOptionsOrNone = async (user: User) =>
      (await t.http().post('/auth/reauthenticate/options').set(bearer(user.accessToken))).body.challenge as string | undefined;
  });

  describe('reauthentication', () => {
    const reauthenticate = (token: string, response: Json) => t.http().post('/auth/reauthenticate').set(bearer(token)).send({ response });

    test("options list only the user's passkeys; 409 no_passkey without one", async () => {
      const { user, authenticator } = await userWithPasskey();
      await userWithPasskey();
      const options = await reauthOptions(user);
      expect(options).toMatchObject({ rpId: 'localhost', allowCredentials: [{ id: authenticator.credentialId, type: 'public-key' }] });
      const none = await registerAndLogin(t);
      expect((await t.http().post('/auth/reauthenticate/options').set(bearer(none.accessToken)).expect(409)).body.code).toBe('no_passkey');
    });

    test('a fresh access token for the same session, worth what the passkey proved', async () => {
      const { user, authenticator } = await userWithPasskey();
      const answer = await reauthenticate(user.accessToken, authenticator.assert(await reauthOptions(user))).expect(200);
      const claims = claimsOf(answer.body.accessToken);
      expect(claims).toMatchObject({ sub: user.userId, sid: user.sessionId, amr: ['hwk', 'user', 'mfa'], acr: 'urn:tessera:aal2' });
      const [event] = await events(user.userId, 'reauthenticated');
      expect(event).toMatchObject({ outcome: 'success', details: { amr: ['hwk', 'user', 'mfa'] } });
    });

    test("another user's passkey, another session's challenge, a login challenge, a replay: 401 invalid_passkey", async () => {
      const { user, authenticator } = await userWithPasskey();
      const other = await userWithPasskey();
      // Another user's credential, on this user's challenge.
      expect((await reauthenticate(user.accessToken, other.authenticator.assert(await reauthOptions(user))).expect(401)).body.code).toBe(
        'invalid_passkey',
      );
      // This user's challenge made for another session of theirs.
      const second = await t.http().post('/auth/login').send({ email: user.email, password: PASSWORD }).expect(200);
      await reauthenticate(user.accessToken, authenticator.assert(await reauthOptions({ accessToken: second.body.accessToken }))).expect(
        401,
      );
      // A login challenge.
      await reauthenticate(user.accessToken, authenticator.assert(await loginOptions())).expect(401);
      // A replay.
      const response = authenticator.assert(await reauthOptions(user));
      await reauthenticate(user.accessToken, response).expect(200);
      await reauthenticate(user.accessToken, response).expect(401);
      const reasons = (await events(user.userId, 'reauthenticated')).filter((e) => e.outcome === 'failure').map((e) => e.details.reason);
      expect(reasons.sort()).toEqual(['foreign_credential', 'unknown_challenge', 'wrong_challenge', 'wrong_challenge']);
    });

    test('password and response together, or neither: 400', async () => {
      const { user, authenticator } = await userWithPasskey();
      const response = authenticator.assert(await reauthOptions(user));
      await t.http().post('/auth/reauthenticate').set(bearer(user.accessToken)).send({ password: PASSWORD, response }).expect(400);
      await t.http().post('/auth/reauthenticate').set(bearer(user.accessToken)).send({}).expect(400);
    });
  });

  describe('management', () => {
    test("rename: 1 to 64 characters, trimmed; another user's passkey is 404", async () => {
      const { user, authenticator } = await userWithPasskey();
      const path = `/auth/passkeys/${authenticator.credentialId}`;
      const renamed = await t.http().patch(path).set(bearer(user.accessToken)).send({ name: '  Work phone ' }).expect(200);
      expect(renamed.body).toMatchObject({ id: authenticator.credentialId, name: 'Work phone' });
      for (const name of ['', '   ', 'x'.repeat(65), 'tab\there', 42]) {
        await t.http().patch(path).set(bearer(user.accessToken)).send({ name }).expect(400);
      }
      await t
        .http()
        .patch(path)
        .set(bearer(user.accessToken))
        .send({ name: 'x'.repeat(64) })
        .expect(200);
      const other = await registerAndLogin(t);
      await t.http().patch(path).set(bearer(other.accessToken)).send({ name: 'Mine now' }).expect(404);
      await t.http().patch('/auth/passkeys/unknown').set(bearer(user.accessToken)).send({ name: 'x' }).expect(404);
    });

    test("remove: another user's is 404; then it logs in no more; recorded as passkey.removed", async () => {
      const { user, authenticator } = await userWithPasskey();
      const path = `/auth/passkeys/${authenticator.credentialId}`;
      const other = await registerAndLogin(t);
      await t.http().delete(path).set(bearer(other.accessToken)).expect(404);
      await t.http().delete(path).set(bearer(user.accessToken)).expect(204);
      await t.http().delete(path).set(bearer(user.accessToken)).expect(404);
      expect((await t.http().get('/auth/passkeys').set(bearer(user.accessToken)).expect(200)).body).toEqual([]);
      await passkeyLogin(authenticator.assert(await loginOptions())).expect(401);
      const [removed] = await events(user.userId, 'passkey.removed');
      expect(removed).toMatchObject({ outcome: 'success', details: { credentialId: authenticator.credentialId } });
    });

    test('on an account that also has TOTP, removing a passkey needs a recent proof at aal2', async () => {
      const { user, authenticator } = await userWithPasskey();
      const totp = t.app.get(TotpService, { strict: false });
      const { secret } = await totp.enrol(user.userId, user.email);
      // The code of now: accepted within the one step of drift even if a step boundary passes meanwhile.
      await totp.confirm(user.userId, new TOTP({ secret: Secret.fromBase32(secret) }).generate());
      const path = `/auth/passkeys/${authenticator.credentialId}`;
      // A fresh password login is recent, but worth aal1.
      const refused = await t.http().delete(path).set(bearer(user.accessToken)).expect(401);
      expect(refused.body.code).toBe('reauthentication_required');
      expect(refused.headers['www-authenticate']).toBe(
        `Bearer error="insufficient_user_authentication", max_age=${MAX_AGE}, acr_values="urn:tessera:aal2"`,
      );
      // A user-verified passkey is aal2.
      const fresh = await t
        .http()
        .post('/auth/reauthenticate')
        .set(bearer(user.accessToken))
        .send({ response: authenticator.assert(await reauthOptions(user)) })
        .expect(200);
      await t.http().delete(path).set(bearer(fresh.body.accessToken)).expect(204);
    });

    test('remove needs a recent authentication; a passkey reauthentication gives one', async () => {
      const { user, authenticator } = await userWithPasskey();
      await sleep((MAX_AGE + 1.5) * 1000);
      const path = `/auth/passkeys/${authenticator.credentialId}`;
      expect((await t.http().delete(path).set(bearer(user.accessToken)).expect(401)).body.code).toBe('reauthentication_required');
      const fresh = await t
        .http()
        .post('/auth/reauthenticate')
        .set(bearer(user.accessToken))
        .send({ response: authenticator.assert(await reauthOptions(user)) })
        .expect(200);
      await t.http().delete(path).set(bearer(fresh.body.accessToken)).expect(204);
    });
  });

  describe('for the second-factor policy', () => {
    test('count and removeAll (what MFA_REQUIRED_ROLES and the admin reset use); a deleted account takes its passkeys along', async () => {
      const passkeys = t.app.get(PasskeysService, { strict: false });
      const { user, authenticator } = await userWithPasskey();
      await addPasskey(user, new SoftwareAuthenticator(ORIGIN).register(await registrationOptions(user))).expect(201);
      expect(await passkeys.count(user.userId)).toBe(2);
      expect(await passkeys.removeAll(user.userId)).toBe(2);
      expect(await passkeys.count(user.userId)).toBe(0);
      await passkeyLogin(authenticator.assert(await loginOptions())).expect(401);
      const other = await userWithPasskey();
      const db = t.app.get<Database>(DATABASE);
      await db.delete(users).where(eq(users.id, other.user.userId));
      expect(await passkeys.count(other.user.userId)).toBe(0);
      await passkeyLogin(other.authenticator.assert(await loginOptions())).expect(401);
    });
  });
});

describe('passkeys with REQUIRE_VERIFIED_EMAIL', () => {
  let t: TestApp;
  beforeAll(async () => {
    t = await startApp({ PUBLIC_ORIGIN: ORIGIN, REQUIRE_VERIFIED_EMAIL: 'true' });
  });
  afterAll(async () => {
    await t.close();
  });

  test('a valid passkey of an unverified account: 403 email_unverified, recorded; verified, it logs in', async () => {
    const email = `passkey-unverified-${Date.now()}@example.com`;
    const { body } = await t.http().post('/auth/register').send({ email, password: PASSWORD }).expect(201);
    const userId = body.id as string;
    const db = t.app.get<Database>(DATABASE);
    const setVerified = (value: boolean) => db.update(users).set({ emailVerified: value }).where(eq(users.id, userId));
    await setVerified(true);
    const login = await t.http().post('/auth/login').send({ email, password: PASSWORD }).expect(200);
    const token = login.body.accessToken as string;
    const options = (await t.http().post('/auth/passkeys/registration/options').set(bearer(token)).expect(200)).body as Json;
    const authenticator = new SoftwareAuthenticator(ORIGIN);
    await t
      .http()
      .post('/auth/passkeys')
      .set(bearer(token))
      .send({ response: authenticator.register(options) })
      .expect(201);
    await setVerified(false);
    const loginOptions = async () => (await t.http().post('/auth/passkeys/login/options').expect(200)).body as Json;
    const refused = await t
      .http()
      .post('/auth/passkeys/login')
      .send({ response: authenticator.assert(await loginOptions()) })
      .expect(403);
    expect(refused.body.code).toBe('email_unverified');
    const [failed] = await t.app.get(SecurityEventsRepository).list({ userId, type: 'login.failed' }, 5);
    expect(failed.details).toMatchObject({ reason: 'email_unverified' });
    await setVerified(true);
    await t
      .http()
      .post('/auth/passkeys/login')
      .send({ response: authenticator.assert(await loginOptions()) })
      .expect(200);
  });
});
