import { randomBytes } from 'node:crypto';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, test } from '@jest/globals';
import { eq } from 'drizzle-orm';
import { Secret, TOTP } from 'otpauth';
import { DATABASE, type Database } from '../../src/database/database.js';
import { webauthnCredentials } from '../../src/database/schema.js';
import { TotpService } from '../../src/auth/mfa/totp.service.js';
import { bearer, PASSWORD, registerAndLogin, startApp, type TestApp } from '../support/app.js';
import { SoftwareAuthenticator } from '../support/software-authenticator.js';

/*
 * Holes an attacker's review of passkeys and step-up found, one test each (every one was red on
 * the code the review ran against): adding a factor with less than two factors' proof, a synced
 * key passing as a hardware key, credential ids the database or the user cannot handle, a bad Host
 * header, and unlimited challenges.
 */
const ORIGIN = 'http://localhost:3000';
type Json = Record<string, unknown>;
type User = Awaited<ReturnType<typeof registerAndLogin>>;
const claimsOf = (jwt: string) => JSON.parse(Buffer.from(jwt.split('.')[1], 'base64url').toString()) as Record<string, unknown>;

describe('review: passkeys (PUBLIC_ORIGIN set)', () => {
  let t: TestApp;
  beforeAll(async () => {
    t = await startApp({ PUBLIC_ORIGIN: ORIGIN });
  });
  afterAll(async () => {
    await t.close();
  });

  const registrationOptions = async (user: User): Promise<Json> =>
    (await t.http().post('/auth/passkeys/registration/options').set(bearer(user.accessToken)).expect(200)).body as Json;
  const addPasskey = (user: User, response: Json, name?: string) =>
    t.http().post('/auth/passkeys').set(bearer(user.accessToken)).send({ response, name });

  test('a registration whose authenticator data carries a 3000-byte credential id is a 400, not a 500', async () => {
    const user = await registerAndLogin(t);
    const authenticator = new SoftwareAuthenticator(ORIGIN);
    // The credential id inside the attested authenticator data (what the server stores); the JSON id stays short.
    (authenticator as unknown as { credentialId: string }).credentialId = randomBytes(3000).toString('base64url');
    const response = authenticator.register(await registrationOptions(user));
    response.id = response.rawId = 'c2hvcnQtaWQ';
    const added = await addPasskey(user, response);
    expect(added.status).toBe(400);
  });

  test('a synced credential (BE=1 at registration) cannot later claim BE=0 and log in as a hardware key (hwk)', async () => {
    const user = await registerAndLogin(t);
    const authenticator = new SoftwareAuthenticator(ORIGIN, { be: true, bs: true, uv: false });
    await addPasskey(user, authenticator.register(await registrationOptions(user))).expect(201);
    // The key of a synced passkey lives outside any hardware: whoever holds it signs any flags.
    authenticator.flags = { be: false, bs: false, uv: false };
    const options = (await t.http().post('/auth/passkeys/login/options').expect(200)).body as Json;
    const login = await t
      .http()
      .post('/auth/passkeys/login')
      .send({ response: authenticator.assert(options), client: 'native' });
    // Either refused (BE is fixed for a credential's life, WebAuthn §6.1.3) or still worth swk, never hwk.
    if (login.status === 200) expect(claimsOf(login.body.accessToken as string).amr).toContain('swk');
    else expect(login.status).toBe(401);
  });

  test('a registration whose authenticator data carries an empty credential id is refused (it could never be removed)', async () => {
    const user = await registerAndLogin(t);
    const authenticator = new SoftwareAuthenticator(ORIGIN);
    (authenticator as unknown as { credentialId: string }).credentialId = '';
    // The id '' is one for the whole database: a registration of an earlier run would answer 409 here.
    await t.app.get<Database>(DATABASE).delete(webauthnCredentials).where(eq(webauthnCredentials.id, ''));
    const response = authenticator.register(await registrationOptions(user));
    response.id = response.rawId = 'c2hvcnQtaWQ';
    const added = await addPasskey(user, response);
    if (added.status === 201) {
      // Stored with the id '' of the authenticator data: listed, and no DELETE /auth/passkeys/:id can name it.
      const listed = (await t.http().get('/auth/passkeys').set(bearer(user.accessToken)).expect(200)).body as Json[];
      expect(listed.map((p) => p.id)).toEqual(['']);
      const removed = await t
        .http()
        .delete(`/auth/passkeys/${encodeURIComponent(listed[0].id as string)}`)
        .set(bearer(user.accessToken));
      expect(removed.status).toBe(204);
    } else {
      expect(added.status).toBe(400);
    }
  });

  test("on a two-factor account, a password-only (aal1) proof cannot enrol a passkey that then gives aal2 and removes the owner's passkey", async () => {
    // The owner: a user-verified passkey and TOTP (two factors; removing a passkey needs aal2).
    const owner = await registerAndLogin(t);
    const ownersKey = new SoftwareAuthenticator(ORIGIN);
    await addPasskey(owner, ownersKey.register(await registrationOptions(owner))).expect(201);
    const totp = t.app.get(TotpService, { strict: false });
    const { secret } = await totp.enrol(owner.userId, owner.email);
    await totp.confirm(owner.userId, new TOTP({ secret: Secret.fromBase32(secret) }).generate());
    // The attacker: a session of the account and its password (aal1), no second factor.
    const aal1 = (await t.http().post('/auth/reauthenticate').set(bearer(owner.accessToken)).send({ password: PASSWORD }).expect(200)).body
      .accessToken as string;
    expect(claimsOf(aal1).acr).toBe('urn:tessera:aal1');
    const ownersPath = `/auth/passkeys/${ownersKey.credentialId}`;
    expect((await t.http().delete(ownersPath).set(bearer(aal1)).expect(401)).body.code).toBe('reauthentication_required');
    const options = await t.http().post('/auth/passkeys/registration/options').set(bearer(aal1));
    if (options.status === 200) {
      const attackersKey = new SoftwareAuthenticator(ORIGIN, { uv: true });
      await t
        .http()
        .post('/auth/passkeys')
        .set(bearer(aal1))
        .send({ response: attackersKey.register(options.body as Json) })
        .expect(201);
      const reauthOptions = (await t.http().post('/auth/reauthenticate/options').set(bearer(aal1)).expect(200)).body as Json;
      const aal2 = await t
        .http()
        .post('/auth/reauthenticate')
        .set(bearer(aal1))
        .send({ response: attackersKey.assert(reauthOptions) })
        .expect(200);
      expect(claimsOf(aal2.body.accessToken as string).acr).toBe('urn:tessera:aal2');
      await t
        .http()
        .delete(ownersPath)
        .set(bearer(aal2.body.accessToken as string));
    } else {
      expect(options.status).toBe(401);
    }
    const left = (await t.http().get('/auth/passkeys').set(bearer(owner.accessToken)).expect(200)).body as Json[];
    expect(left.map((p) => p.id)).toContain(ownersKey.credentialId);
  });
});

describe('review: an account with a passkey only (no TOTP)', () => {
  let t: TestApp;
  beforeAll(async () => {
    t = await startApp({ PUBLIC_ORIGIN: ORIGIN });
  });
  afterAll(async () => {
    await t.close();
  });

  test('a stolen session plus the password (aal1) can add neither the app nor another passkey; the owner with the passkey (aal2) can', async () => {
    const owner = await registerAndLogin(t);
    const ownersKey = new SoftwareAuthenticator(ORIGIN, { uv: true });
    const creation = (await t.http().post('/auth/passkeys/registration/options').set(bearer(owner.accessToken)).expect(200)).body as Json;
    await t
      .http()
      .post('/auth/passkeys')
      .set(bearer(owner.accessToken))
      .send({ response: ownersKey.register(creation) })
      .expect(201);
    const aal1 = (await t.http().post('/auth/reauthenticate').set(bearer(owner.accessToken)).send({ password: PASSWORD }).expect(200)).body
      .accessToken as string;
    for (const path of ['/auth/mfa/totp', '/auth/passkeys/registration/options']) {
      const refused = await t.http().post(path).set(bearer(aal1)).expect(401);
      expect(refused.body.code).toBe('reauthentication_required');
      expect(refused.headers['www-authenticate']).toContain('acr_values="urn:tessera:aal2"');
    }
    const reauthOptions = (await t.http().post('/auth/reauthenticate/options').set(bearer(aal1)).expect(200)).body as Json;
    const aal2 = (
      await t
        .http()
        .post('/auth/reauthenticate')
        .set(bearer(aal1))
        .send({ response: ownersKey.assert(reauthOptions) })
        .expect(200)
    ).body.accessToken as string;
    await t.http().post('/auth/mfa/totp').set(bearer(aal2)).expect(200);
    await t.http().post('/auth/passkeys/registration/options').set(bearer(aal2)).expect(200);
  });
});

describe('review: passkeys, development without PUBLIC_ORIGIN', () => {
  let t: TestApp;
  beforeAll(async () => {
    t = await startApp({ PUBLIC_ORIGIN: undefined, WEBAUTHN_RP_ID: undefined });
  });
  afterAll(async () => {
    await t.close();
  });

  test('a malformed Host header on the public login options is a 400, not a 500', async () => {
    const answer = await t.http().post('/auth/passkeys/login/options').set('Host', 'a b');
    expect(answer.status).toBe(400);
  });
});

describe('review: challenges an authenticated user can mint', () => {
  let t: TestApp;
  // An app per test, on the memory stores (no Redis): rate-limit counters of other tests and suites do not interfere.
  beforeEach(async () => {
    t = await startApp({ PUBLIC_ORIGIN: ORIGIN, REDIS_URL: undefined, THROTTLE_LIMIT: '3' });
  });
  afterEach(async () => {
    await t.close();
  });

  test('POST /auth/reauthenticate/options is rate limited like the public options (each call stores a challenge for 5 minutes)', async () => {
    const user = await registerAndLogin(t);
    const authenticator = new SoftwareAuthenticator(ORIGIN);
    const options = (await t.http().post('/auth/passkeys/registration/options').set(bearer(user.accessToken)).expect(200)).body as Json;
    await t
      .http()
      .post('/auth/passkeys')
      .set(bearer(user.accessToken))
      .send({ response: authenticator.register(options) })
      .expect(201);
    const statuses: number[] = [];
    for (let i = 0; i < 20; i++) statuses.push((await t.http().post('/auth/reauthenticate/options').set(bearer(user.accessToken))).status);
    expect(statuses).toContain(429);
  });

  test('POST /auth/passkeys/registration/options is rate limited too', async () => {
    const user = await registerAndLogin(t);
    const statuses: number[] = [];
    for (let i = 0; i < 20; i++)
      statuses.push((await t.http().post('/auth/passkeys/registration/options').set(bearer(user.accessToken))).status);
    expect(statuses).toContain(429);
  });
});
