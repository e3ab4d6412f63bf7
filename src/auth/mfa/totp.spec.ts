import { describe, expect, test } from '@jest/globals';
import { Secret, TOTP, URI } from 'otpauth';
import { matchTotpStep, newTotpSecret, normaliseTotpCode, otpauthUri, totpCode, totpStep, TOTP_PERIOD_SECONDS } from './totp.js';

/** RFC 6238 Appendix B: the SHA-1 seed is the ASCII "12345678901234567890". */
const RFC_SECRET = new Secret({ buffer: new TextEncoder().encode('12345678901234567890').buffer }).base32;
const STEP_MS = TOTP_PERIOD_SECONDS * 1000;

describe('TOTP', () => {
  test('codes match RFC 6238 Appendix B (SHA-1, last 6 of the 8 digits)', () => {
    const vectors: [number, string][] = [
      [59, '94287082'],
      [1111111109, '07081804'],
      [1111111111, '14050471'],
      [1234567890, '89005924'],
      [2000000000, '69279037'],
    ];
    for (const [seconds, eight] of vectors) expect(totpCode(RFC_SECRET, totpStep(seconds * 1000))).toBe(eight.slice(2));
  });

  test('a new secret is 20 random bytes in base32', () => {
    const a = newTotpSecret();
    expect(a).toMatch(/^[A-Z2-7]{32}$/);
    expect(Secret.fromBase32(a).bytes).toHaveLength(20);
    expect(newTotpSecret()).not.toBe(a);
  });

  test('codes are six digits; spaces are ignored; anything else is refused', () => {
    expect(normaliseTotpCode('123456')).toBe('123456');
    expect(normaliseTotpCode(' 123 456 ')).toBe('123456');
    for (const bad of ['12345', '1234567', '12345a', '１２３４５６', '', '123-456', 123456, null, undefined, '1'.repeat(100)])
      expect(normaliseTotpCode(bad)).toBeUndefined();
  });

  describe('drift window', () => {
    const secret = newTotpSecret();
    // The middle of a step, so no arithmetic below sits on a boundary.
    const now = 1_800_000_000_000 - (1_800_000_000_000 % STEP_MS) + STEP_MS / 2;
    const step = totpStep(now);

    test('the current step and one either side are matched, to their own step', () => {
      for (const delta of [-1, 0, 1]) expect(matchTotpStep(secret, totpCode(secret, step + delta), now)).toBe(step + delta);
    });

    test('two steps away, either side, is refused', () => {
      for (const delta of [-3, -2, 2, 3]) {
        const code = totpCode(secret, step + delta);
        // Skip the one-in-a-million case where the far code equals a code inside the window.
        if ([-1, 0, 1].some((d) => totpCode(secret, step + d) === code)) continue;
        expect(matchTotpStep(secret, code, now)).toBeUndefined();
      }
    });

    test('the window follows the clock across a boundary', () => {
      const lastMsOfStep = (step + 1) * STEP_MS - 1;
      const firstMsOfNext = (step + 1) * STEP_MS;
      expect(matchTotpStep(secret, totpCode(secret, step - 1), lastMsOfStep)).toBe(step - 1);
      expect(matchTotpStep(secret, totpCode(secret, step - 1), firstMsOfNext)).toBeUndefined();
      expect(matchTotpStep(secret, totpCode(secret, step + 2), firstMsOfNext)).toBe(step + 2);
    });

    test('a wrong or malformed code matches nothing', () => {
      const codes = new Set([-1, 0, 1].map((d) => totpCode(secret, step + d)));
      const wrong = ['000000', '111111', '222222', '333333'].find((c) => !codes.has(c))!;
      expect(matchTotpStep(secret, wrong, now)).toBeUndefined();
      expect(matchTotpStep(secret, 'abcdef', now)).toBeUndefined();
    });

    test('agrees with otpauth itself', () => {
      const totp = new TOTP({ secret: Secret.fromBase32(secret) });
      expect(totpCode(secret, step)).toBe(totp.generate({ timestamp: now }));
      expect(matchTotpStep(secret, totp.generate({ timestamp: now - STEP_MS }), now)).toBe(step - 1);
    });
  });

  test('the otpauth URI carries issuer, label and the standard parameters', () => {
    const secret = newTotpSecret();
    const uri = otpauthUri(secret, 'Tessera', 'ada@example.com');
    expect(uri.startsWith('otpauth://totp/Tessera:ada%40example.com?')).toBe(true);
    const parsed = URI.parse(uri) as TOTP;
    expect(parsed).toBeInstanceOf(TOTP);
    expect(parsed).toMatchObject({ issuer: 'Tessera', label: 'ada@example.com', algorithm: 'SHA1', digits: 6, period: 30 });
    expect(parsed.secret.base32).toBe(secret);
  });
});
