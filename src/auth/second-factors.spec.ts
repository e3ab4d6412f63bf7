import { describe, expect, test } from '@jest/globals';
import { HAS_FACTOR_CACHE_MS, SecondFactors } from './second-factors.service.js';
import type { TotpService } from './mfa/totp.service.js';
import type { PasskeysService } from './passkeys/passkeys.service.js';

/** A user without passkeys (these tests are about TOTP and the cache). */
const noPasskeys = { count: async () => 0, removeAll: async () => 0 } as unknown as PasskeysService;

/** A TotpService whose answer the test sets, counting the database questions. */
function fakeTotp(enabled: boolean) {
  const fake = {
    enabled,
    asked: 0,
    isEnabled: async () => {
      fake.asked++;
      return fake.enabled;
    },
    disable: async () => {
      const had = fake.enabled;
      fake.enabled = false;
      return had;
    },
  };
  return fake;
}

describe('SecondFactors.hasAny', () => {
  test('a yes is remembered for HAS_FACTOR_CACHE_MS, then asked again', async () => {
    let now = 1_000_000;
    const totp = fakeTotp(true);
    const factors = new SecondFactors(totp as unknown as TotpService, noPasskeys, () => now);
    expect(await factors.hasAny('u')).toBe(true);
    expect(await factors.hasAny('u')).toBe(true);
    expect(totp.asked).toBe(1);
    now += HAS_FACTOR_CACHE_MS + 1;
    totp.enabled = false;
    expect(await factors.hasAny('u')).toBe(false);
    expect(totp.asked).toBe(2);
  });

  test('a no is never remembered: a factor enrolled anywhere counts on the next question', async () => {
    const totp = fakeTotp(false);
    const factors = new SecondFactors(totp as unknown as TotpService, noPasskeys, () => 0);
    expect(await factors.hasAny('u')).toBe(false);
    totp.enabled = true;
    expect(await factors.hasAny('u')).toBe(true);
  });

  test('removing on this instance forgets the yes at once', async () => {
    const totp = fakeTotp(true);
    const factors = new SecondFactors(totp as unknown as TotpService, noPasskeys, () => 0);
    expect(await factors.hasAny('u')).toBe(true);
    expect(await factors.removeAll('u')).toEqual({ totp: true, passkeys: 0 });
    expect(await factors.hasAny('u')).toBe(false);
  });
});
