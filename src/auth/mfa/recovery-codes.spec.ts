import { describe, expect, test } from '@jest/globals';
import { randomBytes } from 'node:crypto';
import { ServerSecrets } from '../../secrets/server-secrets.js';
import {
  formatRecoveryCode,
  newRecoveryCode,
  normaliseRecoveryCode,
  RECOVERY_CODE_ALPHABET,
  RECOVERY_CODE_BITS,
  RECOVERY_CODE_LENGTH,
  RecoveryCodeHasher,
} from './recovery-codes.js';

const USER = '7b0c9a52-36a4-4c5e-9d1c-2f0e8f3b6a11';

describe('recovery codes', () => {
  test('the alphabet is 32 distinct symbols without look-alikes, so a code carries at least 50 bits', () => {
    expect(new Set(RECOVERY_CODE_ALPHABET).size).toBe(32);
    for (const ambiguous of 'ILOU') expect(RECOVERY_CODE_ALPHABET).not.toContain(ambiguous);
    expect(RECOVERY_CODE_BITS).toBe(60);
    expect(RECOVERY_CODE_BITS).toBeGreaterThanOrEqual(50);
  });

  test('codes read XXXX-XXXX-XXXX and use every symbol about equally', () => {
    const counts = new Map<string, number>();
    const codes = Array.from({ length: 2000 }, () => newRecoveryCode());
    for (const code of codes) {
      expect(code).toMatch(/^[0-9A-HJKMNP-TV-Z]{4}-[0-9A-HJKMNP-TV-Z]{4}-[0-9A-HJKMNP-TV-Z]{4}$/);
      for (const symbol of code.replace(/-/g, '')) counts.set(symbol, (counts.get(symbol) ?? 0) + 1);
    }
    expect(new Set(codes).size).toBe(codes.length);
    // 24,000 symbols: 750 expected each; a biased mapping (e.g. modulo a non-divisor) would stray far.
    expect(counts.size).toBe(32);
    for (const n of counts.values()) expect(Math.abs(n - 750)).toBeLessThan(200);
  });

  test('input is normalised: case, spaces, dashes, and I/L/O read as 1/1/0', () => {
    expect(normaliseRecoveryCode('ABCD-EFGH-JKMN')).toBe('ABCDEFGHJKMN');
    expect(normaliseRecoveryCode(' abcd efgh jkmn ')).toBe('ABCDEFGHJKMN');
    expect(normaliseRecoveryCode('abcd--efgh  jkmn')).toBe('ABCDEFGHJKMN');
    expect(normaliseRecoveryCode('O0Il-1111-2222')).toBe('001111112222');
    expect(formatRecoveryCode('ABCDEFGHJKMN')).toBe('ABCD-EFGH-JKMN');
  });

  test('anything that cannot be a code is refused', () => {
    for (const bad of [
      'ABCD-EFGH-JKM',
      'ABCD-EFGH-JKMNP',
      'ABCD-EFGH-JKMU',
      'ABCD_EFGH_JKMN',
      '',
      'Ä'.repeat(12),
      42,
      null,
      'A'.repeat(100),
    ])
      expect(normaliseRecoveryCode(bad)).toBeUndefined();
  });

  describe('hashing', () => {
    const older = randomBytes(32);
    const newer = randomBytes(32);

    test('the stored hash is keyed, bound to the user, and holds nothing of the code', () => {
      const hasher = new RecoveryCodeHasher(new ServerSecrets([older]));
      const hash = hasher.hash(USER, 'ABCDEFGHJKMN');
      expect(hash).toMatch(/^[A-Za-z0-9_-]{43}$/);
      expect(hash).not.toContain('ABCD');
      expect(hasher.hash('00000000-0000-4000-8000-000000000000', 'ABCDEFGHJKMN')).not.toBe(hash);
      expect(new RecoveryCodeHasher(new ServerSecrets([newer])).hash(USER, 'ABCDEFGHJKMN')).not.toBe(hash);
    });

    test('every secret of the ring is a candidate, and a formatted or sloppy input finds the stored hash', () => {
      const stored = new RecoveryCodeHasher(new ServerSecrets([older])).hash(USER, 'ABCDEFGHJKMN');
      const rotated = new RecoveryCodeHasher(new ServerSecrets([newer, older]));
      expect(rotated.candidates(USER, 'abcd efgh-jkmn')).toHaveLength(2);
      expect(rotated.candidates(USER, 'abcd efgh-jkmn')).toContain(stored);
      expect(rotated.candidates(USER, 'not a code')).toEqual([]);
    });
  });

  test(`codes are ${RECOVERY_CODE_LENGTH} symbols`, () => {
    expect(newRecoveryCode().replace(/-/g, '')).toHaveLength(RECOVERY_CODE_LENGTH);
  });
});
