import { Inject, Injectable } from '@nestjs/common';
import type { ConfigType } from '@nestjs/config';
import type { PublicKeyCredentialCreationOptionsJSON } from '@simplewebauthn/server';
import type { RequestContext } from '../audit/security-event.js';
import { SecurityEventsService } from '../audit/security-events.service.js';
import { Problems } from '../common/problems/problem.js';
import { accountsConfig, authConfig } from '../config/configuration.js';
import { UsersService } from '../users/users.service.js';
import { AuthService } from './auth.service.js';
import type { IssuedTokens } from './auth-cookies.js';
import { TotpService } from './mfa/totp.service.js';
import { PasskeyRejected, type PasskeyView, PasskeysService, type RelyingParty } from './passkeys/passkeys.service.js';
import { SecondFactors } from './second-factors.service.js';
import type { ClientInfo } from './sessions/session.service.js';
import type { AuthenticatedUser } from './tokens/access-token.js';
import { passkeyProof } from './tokens/authentication-context.js';
import type { IssuedAccessToken } from './tokens/token.service.js';

/**
 * Passkeys as a way to prove who one is: registration and management by the signed-in user (with
 * their security events), passwordless login through AuthService.signIn, and reauthentication
 * through AuthService.completeReauthentication. The ceremonies themselves are PasskeysService's.
 */
@Injectable()
export class PasskeyAuthService {
  constructor(
    private readonly passkeys: PasskeysService,
    private readonly auth: AuthService,
    private readonly users: UsersService,
    private readonly totp: TotpService,
    private readonly factors: SecondFactors,
    private readonly events: SecurityEventsService,
    @Inject(accountsConfig.KEY) private readonly accounts: ConfigType<typeof accountsConfig>,
    @Inject(authConfig.KEY) private readonly authSettings: ConfigType<typeof authConfig>,
  ) {}

  async registrationOptions(principal: AuthenticatedUser, rp: RelyingParty): Promise<PublicKeyCredentialCreationOptionsJSON> {
    await this.factors.requireTwoFactorProofToAdd(principal, this.authSettings.reauthMaxAgeSeconds);
    const user = await this.users.getById(principal.id);
    return this.passkeys.registrationOptions(user, rp);
  }

  async register(
    principal: AuthenticatedUser,
    response: unknown,
    name: string | undefined,
    rp: RelyingParty,
    context: RequestContext,
  ): Promise<PasskeyView> {
    // Checked again at the end of the ceremony: the account may have gained a factor since the options.
    await this.factors.requireTwoFactorProofToAdd(principal, this.authSettings.reauthMaxAgeSeconds);
    const passkey = await this.passkeys.register(principal.id, response, name, rp);
    await this.events.record({
      type: 'passkey.added',
      userId: principal.id,
      sessionId: principal.sessionId,
      details: { credentialId: passkey.id, backedUp: passkey.backedUp },
      context,
    });
    return passkey;
  }

  /**
   * Removes one of the user's passkeys (404 for anyone else's). The route asks for a recent
   * authentication; from an account with two or more factors (TOTP, other passkeys) it needs a
   * recent proof at aal2 (401 `reauthentication_required` with `acr_values`; SecondFactors).
   */
  async remove(principal: AuthenticatedUser, id: string, context: RequestContext): Promise<void> {
    if (!(await this.passkeys.owns(principal.id, id))) throw Problems.notFound('No passkey with this id');
    await this.factors.requireTwoFactorProofToRemovePasskey(principal, this.authSettings.reauthMaxAgeSeconds);
    await this.passkeys.remove(principal.id, id);
    // MFA_REQUIRED_ROLES: this instance asks the database again whether the user still has a factor.
    this.factors.forget(principal.id);
    await this.events.record({
      type: 'passkey.removed',
      userId: principal.id,
      sessionId: principal.sessionId,
      details: { credentialId: id },
      context,
    });
  }

  /**
   * A passwordless login: the assertion must verify (PasskeysService), and the account may log in
   * as with a password (not disabled; a verified email when REQUIRE_VERIFIED_EMAIL is on). Every
   * refusal is 401 `invalid_passkey` alike (except `email_unverified`, which only a valid passkey
   * reaches), recorded as `login.failed` with its reason.
   */
  async login(response: unknown, rp: RelyingParty, client: ClientInfo): Promise<IssuedTokens> {
    const authenticatedAt = Date.now();
    let verified;
    try {
      verified = await this.passkeys.verifyAssertion(response, rp, { purpose: 'login' });
    } catch (error) {
      if (error instanceof PasskeyRejected)
        throw await this.auth.loginFailed(error.userId, error.reason, client, Problems.invalidPasskey());
      throw error;
    }
    const user = await this.users.findFresh(verified.userId);
    if (!user || user.disabled) throw await this.auth.loginFailed(verified.userId, 'disabled', client, Problems.invalidPasskey());
    if (this.accounts.requireVerifiedEmail && !user.emailVerified) {
      throw await this.auth.loginFailed(user.id, 'email_unverified', client, Problems.emailUnverified());
    }
    return this.auth.signIn(user, passkeyProof(authenticatedAt, verified), client, {
      method: 'passkey',
      credentialId: verified.credentialId,
    });
  }

  /** POST /auth/reauthenticate `{response}`: an assertion of one of the user's passkeys, for the challenge bound to this session. */
  async reauthenticate(
    principal: AuthenticatedUser,
    response: unknown,
    rp: RelyingParty,
    context: RequestContext,
  ): Promise<IssuedAccessToken> {
    const authenticatedAt = Date.now();
    const user = await this.users.findFresh(principal.id);
    if (!user) throw Problems.sessionRevoked();
    let verified;
    try {
      verified = await this.passkeys.verifyAssertion(response, rp, { purpose: 'reauth', userId: user.id, sessionId: principal.sessionId });
    } catch (error) {
      if (!(error instanceof PasskeyRejected)) throw error;
      await this.auth.recordReauthentication(principal, 'failure', { method: 'passkey', reason: error.reason }, context);
      throw Problems.invalidPasskey();
    }
    if (user.disabled) {
      await this.auth.recordReauthentication(principal, 'failure', { method: 'passkey', reason: 'disabled' }, context);
      throw Problems.invalidPasskey();
    }
    return this.auth.completeReauthentication(principal, user, passkeyProof(authenticatedAt, verified), context);
  }
}
