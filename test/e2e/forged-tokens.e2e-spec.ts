import { createHmac, createPublicKey, createSecretKey, generateKeyPairSync, type KeyObject, randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, test } from '@jest/globals';
import jwt from 'jsonwebtoken';
import { bearer, registerAndLogin, startApp, type TestApp } from '../support/app.js';
import { accessTokenClaims, type Claims } from '../support/tokens.js';

type User = Awaited<ReturnType<typeof registerAndLogin>>;

const b64url = (value: unknown) => Buffer.from(typeof value === 'string' ? value : JSON.stringify(value)).toString('base64url');
const decodePart = (token: string, index: 0 | 1) =>
  JSON.parse(Buffer.from(token.split('.')[index], 'base64url').toString('utf8')) as Claims;

describe('/users/me refuses forged and invalid access tokens', () => {
  let t: TestApp;
  let keyDir: string;
  // The app runs on this suite's own key, so the tests can sign tokens exactly as the server does.
  const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  let kid: string;
  let jwk: Claims;

  beforeAll(async () => {
    keyDir = mkdtempSync(join(tmpdir(), 'tessera-forged-keys-'));
    const keyFile = join(keyDir, 'jwt-private.pem');
    writeFileSync(keyFile, privateKey.export({ type: 'pkcs8', format: 'pem' }), { mode: 0o600 });
    t = await startApp({ JWT_PRIVATE_KEY_FILE: keyFile });
    const jwks = await t.http().get('/.well-known/jwks.json').expect(200);
    const ours = publicKey.export({ format: 'jwk' });
    jwk = (jwks.body.keys as Claims[]).find((k) => k.x === ours.x && k.y === ours.y)!;
    expect(jwk).toMatchObject({ kty: 'EC', crv: 'P-256', alg: 'ES256', kid: expect.any(String) });
    kid = jwk.kid as string;
  });
  afterAll(async () => {
    await t.close();
    rmSync(keyDir, { recursive: true, force: true });
  });

  /** Signs like the server: ES256, header typ at+jwt and the published kid (overridable). */
  function selfSign(claims: Claims, options: { header?: Claims; key?: KeyObject } = {}): string {
    return jwt.sign(claims, options.key ?? privateKey, {
      algorithm: 'ES256',
      header: { alg: 'ES256', typ: 'at+jwt', kid, ...options.header },
    });
  }

  async function expectAccepted(token: string, user: User) {
    const response = await t.http().get('/users/me').set(bearer(token)).expect(200);
    expect(response.body).toEqual({ id: user.userId, email: user.email, roles: ['user'], emailVerified: false });
  }

  async function expectRefused(token: string, code: 'invalid_token' | 'token_expired' | 'session_revoked' = 'invalid_token') {
    const response = await t.http().get('/users/me').set(bearer(token)).expect(401);
    expect(response.headers['content-type']).toMatch(/^application\/problem\+json/);
    expect(response.body).toMatchObject({ status: 401, code });
    expect(response.headers['www-authenticate']).toMatch(/^Bearer error="invalid_token"(,|$)/);
    return response;
  }

  test('control: a token self-signed with the server key and all the right claims is accepted', async () => {
    const user = await registerAndLogin(t);
    // The server's own token has the same header and claim set as the self-signed ones.
    expect(decodePart(user.accessToken, 0)).toEqual({ alg: 'ES256', typ: 'at+jwt', kid });
    expect(Object.keys(decodePart(user.accessToken, 1)).sort()).toEqual(Object.keys(accessTokenClaims(user)).sort());
    await expectAccepted(selfSign(accessTokenClaims(user)), user);
  });

  test.each([
    ['with an empty signature', ''],
    ['keeping the original signature', 'original'],
  ])('alg "none" with the real claims of a valid token (%s) is invalid_token', async (_label, signature) => {
    const user = await registerAndLogin(t);
    await expectAccepted(user.accessToken, user);
    const [, payload, original] = user.accessToken.split('.');
    const none = `${b64url({ alg: 'none', typ: 'at+jwt', kid })}.${payload}.${signature === 'original' ? original : ''}`;
    await expectRefused(none);
    const noneWithoutTyp = `${b64url({ alg: 'none' })}.${payload}.`;
    await expectRefused(noneWithoutTyp);
  });

  test('HS256 signed with the server public key (PEM from the JWKS) as the HMAC secret is invalid_token', async () => {
    const user = await registerAndLogin(t);
    const pem = createPublicKey({ key: jwk as never, format: 'jwk' }).export({ type: 'spki', format: 'pem' }) as string;
    const signingInput = `${b64url({ alg: 'HS256', typ: 'at+jwt', kid })}.${b64url(accessTokenClaims(user))}`;
    const forged = `${signingInput}.${createHmac('sha256', pem).update(signingInput).digest('base64url')}`;
    // Sanity: the forgery is a correct HS256 token for that secret, so only the server's algorithm pinning stops it.
    expect(() => jwt.verify(forged, createSecretKey(Buffer.from(pem)), { algorithms: ['HS256'] })).not.toThrow();
    await expectRefused(forged);
  });

  test('a tampered payload (sub, roles or sid changed, signature kept) is invalid_token', async () => {
    const user = await registerAndLogin(t);
    const other = await registerAndLogin(t);
    await expectAccepted(user.accessToken, user);
    const [header, payload, signature] = user.accessToken.split('.');
    const claims = decodePart(user.accessToken, 1);
    for (const change of [
      { sub: other.userId },
      { roles: ['user', 'admin'] },
      { sid: other.sessionId },
      { exp: (claims.exp as number) + 86400 },
    ]) {
      await expectRefused(`${header}.${b64url({ ...claims, ...change })}.${signature}`);
    }
    // The untampered original still works: the refusals were for the tampering alone.
    expect(`${header}.${payload}.${signature}`).toBe(user.accessToken);
    await expectAccepted(user.accessToken, user);
  });

  test.each([
    ['JWT', 'JWT'],
    ['at-jwt (a near miss)', 'at-jwt'],
    ['missing', undefined],
  ])('a correctly signed token with typ %s is invalid_token', async (_label, typ) => {
    const user = await registerAndLogin(t);
    await expectAccepted(selfSign(accessTokenClaims(user)), user);
    await expectRefused(selfSign(accessTokenClaims(user), { header: { typ } }));
  });

  test.each([
    ['another issuer', 'tessera-evil'],
    ['no issuer', undefined],
  ])('a correctly signed token with %s is invalid_token', async (_label, iss) => {
    const user = await registerAndLogin(t);
    await expectAccepted(selfSign(accessTokenClaims(user)), user);
    await expectRefused(selfSign(accessTokenClaims(user, { iss })));
  });

  test.each([
    ['another audience', 'other-api'],
    ['an audience list without tessera-api', ['other-api', 'tessera']],
    ['no audience', undefined],
  ])('a correctly signed token with %s is invalid_token', async (_label, aud) => {
    const user = await registerAndLogin(t);
    await expectAccepted(selfSign(accessTokenClaims(user)), user);
    await expectRefused(selfSign(accessTokenClaims(user, { aud })));
  });

  test.each([
    ['without auth_time', { auth_time: undefined }],
    ['without amr', { amr: undefined }],
    ['without acr', { acr: undefined }],
    ['with auth_time as a string', { auth_time: String(Math.floor(Date.now() / 1000)) }],
    ['with auth_time in milliseconds (after iat)', { auth_time: Date.now() }],
    ['with auth_time after iat (beyond the leeway)', { auth_time: Math.floor(Date.now() / 1000) + 60 }],
    ['with a fractional auth_time', { auth_time: Math.floor(Date.now() / 1000) - 0.5 }],
    ['with auth_time 0', { auth_time: 0 }],
    ['with amr as a string', { amr: 'pwd' }],
    ['with an empty amr', { amr: [] }],
    ['with an unknown amr value', { amr: ['pwd', 'face'] }],
    ['with a repeated amr value', { amr: ['pwd', 'pwd'] }],
    ['with an unknown acr', { acr: 'urn:tessera:aal3' }],
    ['with acr as a list', { acr: ['urn:tessera:aal1'] }],
  ])('a correctly signed token %s is invalid_token', async (_label, overrides) => {
    const user = await registerAndLogin(t);
    await expectRefused(selfSign(accessTokenClaims(user, overrides)));
  });

  test('a token signed before sessions recorded authentication (none of auth_time, amr, acr) still works, but never counts as recent', async () => {
    // What the previous version issued: refusing it would log everyone out during a rolling deploy.
    const user = await registerAndLogin(t);
    const legacy = selfSign(accessTokenClaims(user, { auth_time: undefined, amr: undefined, acr: undefined }));
    await expectAccepted(legacy, user);
    const change = await t
      .http()
      .post('/auth/email/change')
      .set(bearer(legacy))
      .send({ newEmail: `legacy-${Date.now()}@example.com`, currentPassword: 'correct horse battery staple' });
    expect({ status: change.status, code: change.body.code }).toEqual({ status: 401, code: 'reauthentication_required' });
  });

  test('a correctly signed token with every authentication claim well formed (mfa, aal2) is accepted', async () => {
    const user = await registerAndLogin(t);
    await expectAccepted(selfSign(accessTokenClaims(user, { amr: ['pwd', 'otp', 'mfa'], acr: 'urn:tessera:aal2' })), user);
  });

  test('a correctly signed token that expired 10 minutes ago (beyond the leeway) is token_expired', async () => {
    const user = await registerAndLogin(t);
    const now = Math.floor(Date.now() / 1000);
    await expectAccepted(selfSign(accessTokenClaims(user, { iat: now - 1500, exp: now + 60, auth_time: now - 1600 })), user);
    const response = await expectRefused(
      selfSign(accessTokenClaims(user, { iat: now - 1500, exp: now - 600, auth_time: now - 1600 })),
      'token_expired',
    );
    expect(response.headers['www-authenticate']).toMatch(/^Bearer error="invalid_token"/);
  });

  test('a correctly signed token with an unknown kid, or none, is invalid_token', async () => {
    const user = await registerAndLogin(t);
    await expectAccepted(selfSign(accessTokenClaims(user)), user);
    await expectRefused(selfSign(accessTokenClaims(user), { header: { kid: 'unknown-kid' } }));
    await expectRefused(selfSign(accessTokenClaims(user), { header: { kid: `${kid}x` } }));
    await expectRefused(selfSign(accessTokenClaims(user), { header: { kid: undefined } }));
  });

  test('a token signed by a different EC P-256 key with the server kid is invalid_token', async () => {
    const user = await registerAndLogin(t);
    const { privateKey: attackerKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
    await expectAccepted(selfSign(accessTokenClaims(user)), user);
    await expectRefused(selfSign(accessTokenClaims(user), { key: attackerKey }));
  });

  test.each([
    ['abc', 'abc'],
    ['a.b.c', 'a.b.c'],
    ['three empty parts', '..'],
    ['base64url JSON but no signature', `${b64url({ alg: 'ES256', typ: 'at+jwt' })}.${b64url({ sub: 'x' })}`],
  ])('a garbage bearer token (%s) is 401 invalid_token', async (_label, token) => {
    await expectRefused(token);
  });

  test('an empty Bearer credential is 401 missing_token with error="invalid_request"', async () => {
    const response = await t.http().get('/users/me').set('Authorization', 'Bearer ').expect(401);
    expect(response.body).toMatchObject({ status: 401, code: 'missing_token' });
    expect(response.headers['www-authenticate']).toBe('Bearer error="invalid_request"');
  });

  test.each(['sid', 'sub', 'jti', 'roles', 'exp'])('a correctly signed token missing %s is invalid_token', async (claim) => {
    const user = await registerAndLogin(t);
    await expectAccepted(selfSign(accessTokenClaims(user)), user);
    await expectRefused(selfSign(accessTokenClaims(user, { [claim]: undefined })));
  });

  test('a correctly signed token for a session that does not exist is session_revoked', async () => {
    const user = await registerAndLogin(t);
    const other = await registerAndLogin(t);
    await expectAccepted(selfSign(accessTokenClaims(user)), user);
    await expectRefused(selfSign(accessTokenClaims(user, { sid: randomUUID() })), 'session_revoked');
    // Another user's live session does not make the token valid either.
    await expectRefused(selfSign(accessTokenClaims(user, { sid: other.sessionId })), 'session_revoked');
  });

  test('a valid token whose session has been logged out is session_revoked', async () => {
    const user = await registerAndLogin(t);
    const selfSigned = selfSign(accessTokenClaims(user));
    await expectAccepted(user.accessToken, user);
    await expectAccepted(selfSigned, user);
    await t.http().post('/auth/logout').set(bearer(user.accessToken)).expect(204);
    await expectRefused(user.accessToken, 'session_revoked');
    await expectRefused(selfSigned, 'session_revoked');
  });
});
