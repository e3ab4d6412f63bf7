import { describe, expect, test } from '@jest/globals';
import { generateKeyPairSync, randomUUID } from 'node:crypto';
import { hashSecret, newSecret, newSessionId, RefreshTokenCodec, SuccessorSealer } from '../../src/auth/tokens/refresh-token.js';

const key = () => generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey;

describe('refresh tokens', () => {
  const codec = new RefreshTokenCodec(key());

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
    expect(new RefreshTokenCodec(key()).read(minted.token)).toBeUndefined();
  });

  test.each([undefined, 42, '', 'a.b.c', 'a.b.c.d.e', `${randomUUID()}.${'a'.repeat(16)}.01.${'a'.repeat(43)}.${'a'.repeat(22)}`])('%j does not read', (value) => {
    expect(codec.read(value)).toBeUndefined();
  });

  test('the stored hash is not the secret and is stable', () => {
    const secret = newSecret();
    expect(hashSecret(secret)).toBe(hashSecret(secret));
    expect(hashSecret(secret)).not.toContain(secret);
    expect(hashSecret(secret)).not.toBe(hashSecret(newSecret()));
  });

  test('the sealed successor opens only with the same key and session id', () => {
    const signingKey = key();
    const sealer = new SuccessorSealer(signingKey);
    const token = 'successor-token';
    const sealed = sealer.seal(token, 'session-a');
    expect(sealed).not.toContain(token);
    expect(sealer.open(sealed, 'session-a')).toBe(token);
    expect(sealer.open(sealed, 'session-b')).toBeUndefined();
    expect(new SuccessorSealer(key()).open(sealed, 'session-a')).toBeUndefined();
    expect(sealer.open('garbage', 'session-a')).toBeUndefined();
  });
});
