import { Inject, Injectable } from '@nestjs/common';
import type { ConfigType } from '@nestjs/config';
import { throttleConfig } from '../config/configuration.js';
import { addressBucket } from '../common/address-bucket.js';
import { RateLimiter } from '../throttling/rate-limit.js';
import type { DeviceToken } from './tokens/device-token.js';
import { ServerSecrets } from './tokens/server-secrets.js';

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

  /** Retry-After seconds while the account has used up its failed checks, else undefined. */
  accountLocked(email: string): Promise<number | undefined> {
    return this.limiter.exhausted('login-account', this.accountKey(email), this.config.loginLimit);
  }

  async deviceLocked(device: DeviceToken): Promise<boolean> {
    return (await this.limiter.exhausted('login-device', device.nonce, this.config.loginLimit)) !== undefined;
  }

  async recordFailure(email: string, device: DeviceToken | undefined): Promise<void> {
    await this.limiter.record('login-account', this.accountKey(email));
    if (device) await this.limiter.record('login-device', device.nonce);
  }

  private accountKey(email: string): string {
    return this.secrets.identifier('login-account', email);
  }
}
