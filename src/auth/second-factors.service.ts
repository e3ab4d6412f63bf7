import { Injectable } from '@nestjs/common';
import { Problems } from '../common/problems/problem.js';
import { ACR_AAL2, type Acr, acrRank } from './tokens/authentication-context.js';
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

  /**
   * Adding a second factor to an account that already has one needs a proof at aal2 (how recent:
   * the route's @RecentAuth): otherwise a stolen session plus the password could add the thief's
   * own factor (a user-verified passkey is worth aal2 by itself) and with it strip the owner's.
   * 401 `reauthentication_required` with `acr_values` asks for it.
   */
  async requireTwoFactorProofToAdd(user: { id: string; acr: Acr }, maxAgeSeconds: number): Promise<void> {
    if (acrRank(user.acr) >= acrRank(ACR_AAL2)) return;
    if (await this.hasAny(user.id)) throw Problems.reauthenticationRequired(maxAgeSeconds, ACR_AAL2);
  }

  /**
   * Removing a passkey from an account with two or more factors (TOTP, other passkeys) needs a
   * proof at aal2, so a stolen session plus the password cannot strip the second factor. The
   * account's only factor goes with a recent proof of any strength (the password can log in anyway).
   */
  async requireTwoFactorProofToRemovePasskey(user: { id: string; acr: Acr }, maxAgeSeconds: number): Promise<void> {
    if (acrRank(user.acr) >= acrRank(ACR_AAL2)) return;
    const factors = ((await this.totp.isEnabled(user.id)) ? 1 : 0) + (await this.passkeys.count(user.id));
    if (factors >= 2) throw Problems.reauthenticationRequired(maxAgeSeconds, ACR_AAL2);
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
