import { Injectable } from '@nestjs/common';
import { TotpService } from './mfa/totp.service.js';
import { PasskeysService } from './passkeys/passkeys.service.js';

/** How long this instance trusts "the user has a second factor" before asking the database again. */
export const HAS_FACTOR_CACHE_MS = 30_000;
/** Entries kept at most; beyond it the cache starts over (it only saves queries). */
const CACHE_LIMIT = 10_000;

/**
 * Every second factor of a user, as one thing: what MFA_REQUIRED_ROLES asks for (`hasAny`) and
 * what an admin removes for a lost phone (`removeAll`): TOTP (with its recovery codes) and
 * passkeys. It sits in auth/, above both rooms (mfa/ and passkeys/ do not know each other).
 *
 * `hasAny` is asked on every request of a user holding an MFA_REQUIRED_ROLES role, so a *yes* is
 * remembered for HAS_FACTOR_CACHE_MS on this instance, and forgotten at once when this instance
 * removes a factor. Staleness: after a removal on *another* instance this one may still say yes
 * for up to HAS_FACTOR_CACHE_MS (the user reaches routes the policy would refuse for that long;
 * the factor itself no longer works anywhere). A *no* is never cached, so a factor enrolled on any
 * instance counts on the next request everywhere.
 */
@Injectable()
export class SecondFactors {
  private readonly known = new Map<string, number>();

  constructor(
    private readonly totp: TotpService,
    private readonly passkeys: PasskeysService,
    private readonly now: () => number = Date.now,
  ) {}

  async hasAny(userId: string): Promise<boolean> {
    const until = this.known.get(userId);
    if (until !== undefined && until > this.now()) return true;
    const has = (await this.totp.isEnabled(userId)) || (await this.passkeys.count(userId)) > 0;
    if (has) {
      if (this.known.size >= CACHE_LIMIT) this.known.clear();
      this.known.set(userId, this.now() + HAS_FACTOR_CACHE_MS);
    } else {
      this.known.delete(userId);
    }
    return has;
  }

  /** Removes every second factor of the user (TOTP, recovery codes, passkeys); what there was. */
  async removeAll(userId: string): Promise<{ totp: boolean; passkeys: number }> {
    const totp = await this.totp.disable(userId);
    const passkeys = await this.passkeys.removeAll(userId);
    this.forget(userId);
    return { totp, passkeys };
  }

  /** A factor of the user was removed on this instance: ask the database next time. */
  forget(userId: string): void {
    this.known.delete(userId);
  }
}
