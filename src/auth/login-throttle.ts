import { Inject, Injectable } from '@nestjs/common';
import type { ConfigType } from '@nestjs/config';
import { throttleConfig } from '../config/configuration.js';
import { addressBucket } from '../common/address-bucket.js';
import { RateLimiter } from '../throttling/rate-limit.js';
import type { DeviceToken } from './tokens/device-token.js';
import { ServerSecrets } from '../secrets/server-secrets.js';

/**
 * Login limits, applied by AuthService after validation (a body refused by validation counts for
 * nothing):
 * - per client IP, every attempt: guessing across many accounts from one place;
 * - per account, failed password checks only, keyed by a MAC of the normalised email whether or not
 *   the account exists (a 429 says nothing about existence, and Redis holds no address);
 * - a client holding a valid device token for the account is exempt from the account lockout
 *   (OWASP device cookies), so an attacker cannot lock the owner out; a device token that itself
 *   keeps failing loses that exemption.
 */
/** One reserved password check, charged to a device token or to an account. */
export interface LoginSlot {
  name: 'login-device' | 'login-account';
  who: string;
}

@Injectable()
export class LoginThrottle {
  constructor(
    private readonly limiter: RateLimiter,
    private readonly secrets: ServerSecrets,
    @Inject(throttleConfig.KEY) private readonly config: ConfigType<typeof throttleConfig>,
  ) {}

  /** Counts this attempt for the client's address; 429 beyond THROTTLE_LOGIN_LIMIT. */
  admitClient(ip: string): Promise<void> {
    return this.limiter.consume('login-ip', addressBucket(ip), this.config.loginLimit);
  }

  /**
   * Takes the slot for one password check, atomically (so parallel guesses cannot all pass a check
   * made before any of them is counted): from the device token's own allowance when a valid one for
   * this account is presented, else from the account's. `{ retryAfter }` when both are used up.
   */
  async takeSlot(email: string, device: DeviceToken | undefined): Promise<{ slot: LoginSlot } | { retryAfter: number }> {
    if (device && (await this.limiter.reserve('login-device', device.nonce, this.config.loginLimit)) === undefined) {
      return { slot: { name: 'login-device', who: device.nonce } };
    }
    const account = this.accountKey(email);
    const retryAfter = await this.limiter.reserve('login-account', account, this.config.loginLimit);
    return retryAfter === undefined ? { slot: { name: 'login-account', who: account } } : { retryAfter };
  }

  /** The password was right: the slot goes back (only failed checks count). */
  async passed(slot: LoginSlot): Promise<void> {
    await this.limiter.release(slot.name, slot.who);
  }

  /** The password was wrong: the slot stays used; a device token's failure counts for the account too. */
  async failed(email: string, slot: LoginSlot): Promise<void> {
    if (slot.name === 'login-device') await this.limiter.record('login-account', this.accountKey(email));
  }

  private accountKey(email: string): string {
    return this.secrets.identifier('login-account', email);
  }
}
