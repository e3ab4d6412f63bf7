import { describe, expect, test } from '@jest/globals';
import { createHmac, generateKeyPairSync, hkdfSync, randomBytes, randomUUID } from 'node:crypto';
import { hashSecret, newSecret, newSessionId, RefreshTokenCodec, SuccessorSealer } from './refresh-token.js';
import { decodeSecret } from '../../config/secret.js';
import { ServerSecrets } from '../../secrets/server-secrets.js';

const signingKey = () => generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey;
const secret = () => randomBytes(32);
const ring = (...secrets: Buffer[]) => new ServerSecrets(secrets);

describe('refresh tokens', () => {
  const codec = new RefreshTokenCodec(ring(secret()));

  test('minted tokens read back; the secret carries 256 bits', () => {
    const userId = randomUUID();
    const sessionId = newSessionId();
    const minted = codec.mint(userId, sessionId, 3);
    expect(codec.read(minted.token)).toEqual({ userId, sessionId, generation: 3, secret: minted.secret });
    expect(Buffer.from(minted.secret, 'base64url')).toHaveLength(32);
    expect(codec.mint(userId, sessionId, 3).secret).not.toBe(minted.secret);
  });

  test('a token is only read back by the server that minted it, unaltered', () => {
    const minted = codec.mint(randomUUID(), newSessionId(), 2);
    const parts = minted.token.split('.');
    const altered = (index: number, value: string) => parts.map((p, i) => (i === index ? value : p)).join('.');
    expect(codec.read(altered(2, '1'))).toBeUndefined(); // an "older" generation cannot be forged
    expect(codec.read(altered(3, newSecret()))).toBeUndefined();
    expect(codec.read(altered(1, newSessionId()))).toBeUndefined();
    expect(new RefreshTokenCodec(ring(secret())).read(minted.token)).toBeUndefined();
  });

  test('the tag rests on SERVER_SECRETS, not on the signing key: a new signing key reads old tokens', () => {
    const secrets = ring(secret());
    const minted = new RefreshTokenCodec(secrets, [signingKey()]).mint(randomUUID(), newSessionId(), 0);
    expect(new RefreshTokenCodec(secrets, [signingKey()]).read(minted.token)).toBeDefined();
  });

  test('prepending a new secret keeps tokens of the older one; dropping it ends them', () => {
    const older = secret();
    const newer = secret();
    const old = new RefreshTokenCodec(ring(older)).mint(randomUUID(), newSessionId(), 1);
    const rotated = new RefreshTokenCodec(ring(newer, older));
    expect(rotated.read(old.token)).toBeDefined();
    const fresh = rotated.mint(randomUUID(), newSessionId(), 0);
    expect(fresh.token.split('.')[4]).toBe(ring(newer).ids[0]);
    expect(new RefreshTokenCodec(ring(newer)).read(old.token)).toBeUndefined();
    expect(new RefreshTokenCodec(ring(newer)).read(fresh.token)).toBeDefined();
  });

  test('tokens minted before SERVER_SECRETS (tag under the signing key, no key id) still read, for that key only', () => {
    const key = signingKey();
    const tagKey = Buffer.from(hkdfSync('sha256', key.export({ format: 'der', type: 'pkcs8' }), 'tessera', 'refresh-token-tag-v1', 32));
    const body = `${randomUUID()}.${newSessionId()}.4.${newSecret()}`;
    const legacy = `${body}.${createHmac('sha256', tagKey).update(body).digest().subarray(0, 16).toString('base64url')}`;
    expect(new RefreshTokenCodec(ring(secret()), [key]).read(legacy)).toMatchObject({ generation: 4 });
    expect(new RefreshTokenCodec(ring(secret()), [signingKey()]).read(legacy)).toBeUndefined();
    expect(new RefreshTokenCodec(ring(secret())).read(legacy)).toBeUndefined();
    // After a rotation the key that tagged them is no longer first: it still counts while configured.
    expect(new RefreshTokenCodec(ring(secret()), [signingKey(), key]).read(legacy)).toMatchObject({ generation: 4 });
  });

  test.each([undefined, 42, '', 'a.b.c', 'a.b.c.d.e', `${randomUUID()}.${'a'.repeat(16)}.01.${'a'.repeat(43)}.aaaaaa.${'a'.repeat(22)}`])(
    '%j does not read',
    (value) => {
      expect(codec.read(value)).toBeUndefined();
    },
  );

  test('the stored hash is not the secret and is stable', () => {
    const value = newSecret();
    expect(hashSecret(value)).toBe(hashSecret(value));
    expect(hashSecret(value)).not.toContain(value);
    expect(hashSecret(value)).not.toBe(hashSecret(newSecret()));
  });

  test('the sealed successor opens only with a key of the ring and the same session id', () => {
    const older = secret();
    const sealer = new SuccessorSealer(ring(older));
    const token = 'successor-token';
    const sealed = sealer.seal(token, 'session-a');
    expect(sealed).not.toContain(token);
    expect(sealer.open(sealed, 'session-a')).toBe(token);
    expect(sealer.open(sealed, 'session-b')).toBeUndefined();
    expect(new SuccessorSealer(ring(secret(), older)).open(sealed, 'session-a')).toBe(token);
    expect(new SuccessorSealer(ring(secret())).open(sealed, 'session-a')).toBeUndefined();
    expect(sealer.open('garbage', 'session-a')).toBeUndefined();
  });
});

describe('SERVER_SECRETS', () => {
  test('secrets are hex or base64url of at least 32 bytes', () => {
    const raw = secret();
    expect(decodeSecret(raw.toString('hex'))).toEqual(raw);
    expect(decodeSecret(raw.toString('base64url'))).toEqual(raw);
    expect(decodeSecret(raw.toString('base64'))).toEqual(raw);
    expect(decodeSecret(randomBytes(31).toString('hex'))).toBeUndefined();
    expect(decodeSecret('correct horse battery staple')).toBeUndefined();
  });

  test('purposes get different keys; identifiers are stable and hide the value', () => {
    const secrets = ring(secret());
    expect(secrets.for('a').current.key.equals(secrets.for('b').current.key)).toBe(false);
    expect(secrets.identifier('email', 'ada@example.com')).toBe(secrets.identifier('email', 'ada@example.com'));
    expect(secrets.identifier('email', 'ada@example.com')).not.toContain('ada');
    expect(secrets.identifier('email', 'ada@example.com')).not.toBe(ring(secret()).identifier('email', 'ada@example.com'));
  });
});
