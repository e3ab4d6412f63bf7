import { describe, expect, test } from '@jest/globals';
import { generateKeyPairSync, randomUUID } from 'node:crypto';
import {
  formatRefreshToken,
  hashSecret,
  newSecret,
  newSessionId,
  parseRefreshToken,
  SuccessorSealer,
} from '../../src/auth/tokens/refresh-token.js';

describe('refresh tokens', () => {
  test('format and parse round-trip; the secret carries 256 bits', () => {
    const token = { userId: randomUUID(), sessionId: newSessionId(), secret: newSecret() };
    const text = formatRefreshToken(token);
    expect(parseRefreshToken(text)).toEqual(token);
    expect(Buffer.from(token.secret, 'base64url')).toHaveLength(32);
    expect(newSecret()).not.toBe(newSecret());
  });

  test.each([undefined, 42, '', 'a.b.c', `${randomUUID()}.short.${'a'.repeat(43)}`, `not-a-uuid.${'a'.repeat(22)}.${'a'.repeat(43)}`, `${randomUUID()}.${'a'.repeat(22)}.${'a'.repeat(43)}.extra`])(
    '%j does not parse',
    (value) => {
      expect(parseRefreshToken(value)).toBeUndefined();
    },
  );

  test('the stored hash is not the secret and is stable', () => {
    const secret = newSecret();
    expect(hashSecret(secret)).toBe(hashSecret(secret));
    expect(hashSecret(secret)).not.toContain(secret);
    expect(hashSecret(secret)).not.toBe(hashSecret(newSecret()));
  });

  test('the sealed successor opens only with the same key and session id', () => {
    const key = generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey;
    const sealer = new SuccessorSealer(key);
    const token = 'successor-token';
    const sealed = sealer.seal(token, 'session-a');
    expect(sealed).not.toContain(token);
    expect(sealer.open(sealed, 'session-a')).toBe(token);
    expect(sealer.open(sealed, 'session-b')).toBeUndefined();
    expect(new SuccessorSealer(generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey).open(sealed, 'session-a')).toBeUndefined();
    expect(sealer.open('garbage', 'session-a')).toBeUndefined();
  });
});
