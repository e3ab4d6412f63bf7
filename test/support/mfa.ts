import { jest } from '@jest/globals';
import { Secret, TOTP } from 'otpauth';
import type { MfaClock } from '../../src/auth/mfa/mfa-clock.js';
import { bearer, PASSWORD, type TestApp } from './app.js';

/** TOTP's step (RFC 6238 default). */
export const STEP_MS = 30_000;

/** The code of `secret` at TOTP step `step`, as an authenticator app computes it. */
export const codeAt = (secret: string, step: number) =>
  new TOTP({ secret: Secret.fromBase32(secret) }).generate({ timestamp: step * STEP_MS });

/**
 * Sets up the app for the token's user and steps up with password and code: an aal2 access token.
 * Uses TOTP steps `step` and `step + 1` on a mocked clock, and restores it.
 */
export async function stepUpToAal2(t: TestApp, clock: MfaClock, token: string, step: number): Promise<string> {
  const secret = (await t.http().post('/auth/mfa/totp').set(bearer(token)).expect(200)).body.secret as string;
  const spy = jest.spyOn(clock, 'now').mockReturnValue(step * STEP_MS + STEP_MS / 2);
  await t
    .http()
    .post('/auth/mfa/totp/confirm')
    .set(bearer(token))
    .send({ code: codeAt(secret, step) })
    .expect(200);
  spy.mockReturnValue((step + 1) * STEP_MS + STEP_MS / 2);
  const stepped = await t
    .http()
    .post('/auth/reauthenticate')
    .set(bearer(token))
    .send({ password: PASSWORD, code: codeAt(secret, step + 1) })
    .expect(200);
  spy.mockRestore();
  return stepped.body.accessToken as string;
}
