import { Inject, Injectable, Logger } from '@nestjs/common';
import type { ConfigType } from '@nestjs/config';
import { accountsConfig } from '../config/configuration.js';
import type { RequestContext } from '../audit/security-event.js';
import { SecurityEventsService } from '../audit/security-events.service.js';
import { type ProblemException, Problems } from '../common/problems/problem.js';
import { AuthMetrics } from '../metrics/auth-metrics.js';
import type { User } from '../users/user.js';
import { UsersService } from '../users/users.service.js';
import { LoginThrottle } from './login-throttle.js';
import { MfaTickets } from './mfa-tickets.js';
import { RecoveryCodesService } from './mfa/recovery-codes.service.js';
import { TotpService } from './mfa/totp.service.js';
import { type CodeProof, SecondFactorCheck } from './second-factor-check.js';
import { PasswordPolicy } from './passwords/password-policy.js';
import { PasswordService } from './passwords/password.service.js';
import { type ClientInfo, SessionService } from './sessions/session.service.js';
import type { IssuedTokens } from './auth-cookies.js';
import type { AuthenticatedUser } from './tokens/access-token.js';
import { type AuthenticationContext, codeProof, passwordAndCodeProof, passwordProof } from './tokens/authentication-context.js';
import { DeviceTokens } from './tokens/device-token.js';
import { type IssuedAccessToken, TokenService } from './tokens/token.service.js';

/** The first step's answer for an account with TOTP: no session yet, a ticket for POST /auth/login/mfa. */
export interface MfaChallenge {
  mfaRequired: true;
  mfaToken: string;
  methods: ('totp' | 'recovery_code')[];
}

/** What POST /auth/reauthenticate may present (validated by the controller: at least one; a recovery code with the password). */
export interface ReauthenticationProofs {
  password?: string;
  code?: string;
  recoveryCode?: string;
}

/** Credentials and session lifecycle: who may log in, and what ends a session. */
@Injectable()
export class AuthService {
  private readonly logger = new Logger('Auth');

  constructor(
    private readonly users: UsersService,
    private readonly passwords: PasswordService,
    private readonly policy: PasswordPolicy,
    private readonly sessions: SessionService,
    private readonly tokens: TokenService,
    private readonly metrics: AuthMetrics,
    private readonly throttle: LoginThrottle,
    private readonly devices: DeviceTokens,
    private readonly events: SecurityEventsService,
    private readonly totp: TotpService,
    private readonly recoveryCodes: RecoveryCodesService,
    private readonly mfaTickets: MfaTickets,
    private readonly secondFactor: SecondFactorCheck,
    @Inject(accountsConfig.KEY) private readonly accounts: ConfigType<typeof accountsConfig>,
  ) {}

  /**
   * Unknown email, wrong password and disabled account fail alike, after the same argon2 work.
   * Only the security event (admin-only) tells them apart.
   * Limits (LoginThrottle): every attempt per client IP; failed password checks per account, from
   * which a valid device token for the account exempts its holder. A success hands out a fresh
   * device token.
   * An account with TOTP gets no session here: after every check above, an MfaChallenge whose
   * mfaToken (MfaTickets) remembers the login (`native`: how the tokens are to be handed out) for
   * POST /auth/login/mfa.
   */
  async login(
    email: string,
    password: string,
    client: ClientInfo,
    presentedDevice?: string,
    native = false,
  ): Promise<IssuedTokens | MfaChallenge> {
    const authenticatedAt = Date.now();
    await this.throttle.admitClient(client.ip);
    const user = await this.users.findCredentialsByEmail(email);
    const device = user ? this.devices.verify(presentedDevice, user.id) : undefined;
    const admitted = await this.throttle.takeSlot(email, device);
    if ('retryAfter' in admitted) {
      this.metrics.loginFailed();
      await this.events.record({
        type: 'login.locked',
        outcome: 'failure',
        userId: user?.id,
        details: { device: device ? 'locked' : 'none' },
        context: client,
      });
      throw Problems.rateLimited(admitted.retryAfter);
    }
    const { ok: passwordOk, rehash } = await this.passwords.check(user?.passwordHash, password);
    await (passwordOk ? this.throttle.passed(admitted.slot) : this.throttle.failed(email, admitted.slot));
    if (!user || !passwordOk || user.disabled) {
      const reason = !user ? 'unknown_account' : !passwordOk ? 'wrong_password' : 'disabled';
      throw await this.loginFailed(user?.id, reason, client, Problems.invalidCredentials());
    }
    // Only after the right password: a 403 here tells nothing to someone who does not have it.
    if (this.accounts.requireVerifiedEmail && !user.emailVerified) {
      throw await this.loginFailed(user.id, 'email_unverified', client, Problems.emailUnverified());
    }
    if (await this.totp.isEnabled(user.id)) {
      const mfaToken = await this.mfaTickets.issue({ userId: user.id, native, deviceKnown: Boolean(device), passwordAt: authenticatedAt });
      const recovery = (await this.recoveryCodes.remainingRecoveryCodes(user.id)) > 0;
      if (rehash) await this.rehash(user.id, user.passwordHash, password);
      return { mfaRequired: true, mfaToken, methods: recovery ? ['totp', 'recovery_code'] : ['totp'] };
    }
    // A password alone: amr ['pwd'], aal1, proved when the credentials were checked.
    const issued = await this.signIn(user, passwordProof(authenticatedAt), client, { device: device ? 'known' : 'new' });
    if (rehash) await this.rehash(user.id, user.passwordHash, password);
    return issued;
  }

  /**
   * POST /auth/login/mfa, the second step: the mfaToken of a first step and a TOTP code or a
   * recovery code. Every attempt counts for the client's address like a login; wrong codes count
   * against the ticket (it dies at the fifth) and the account (SecondFactorCheck). The account
   * must still be enabled; a password change or a disabling since the first step ends nothing
   * here but makes signIn refuse (sessions revoked meanwhile). Success: a session proved by two
   * factors (amr pwd otp mfa, aal2, auth_time now), handed out as the first step asked.
   */
  async completeMfaLogin(mfaToken: string, proof: CodeProof, client: ClientInfo): Promise<{ issued: IssuedTokens; native: boolean }> {
    await this.throttle.admitClient(client.ip);
    // Taken before the code is checked: one code at a time per mfaToken (see MfaTickets).
    const ticket = await this.mfaTickets.take(mfaToken);
    if (!ticket) throw await this.loginFailed(undefined, 'mfa_token_invalid', client, Problems.invalidMfaToken());
    const user = await this.users.findFresh(ticket.userId).catch(async (error: unknown) => {
      await this.mfaTickets.putBack(mfaToken, ticket, { wrongCode: false }).catch(() => undefined);
      throw error;
    });
    if (!user || user.disabled) throw await this.loginFailed(ticket.userId, 'disabled', client, Problems.invalidCredentials());
    try {
      await this.secondFactor.verify(user.id, proof, client, 'login', { knownDevice: ticket.deviceKnown });
    } catch (error) {
      const refusal = codeRefusal(error);
      // A wrong code costs the ticket one of its tries; the allowance used up (429) or a store or
      // database failure (503) costs it nothing, and only a refusal is recorded.
      await this.mfaTickets.putBack(mfaToken, ticket, { wrongCode: refusal === 'wrong_code' }).catch(() => undefined);
      if (!refusal) throw error;
      throw await this.loginFailed(user.id, refusal, client, error as ProblemException);
    }
    const method = proof.code !== undefined ? 'totp' : 'recovery_code';
    const issued = await this.signIn(
      user,
      passwordAndCodeProof(Date.now()),
      client,
      { device: ticket.deviceKnown ? 'known' : 'new', method },
      ticket.passwordAt,
    );
    return { issued, native: ticket.native };
  }

  /**
   * The last step of every login, whatever proved who the user is (a password, a password and a
   * second factor, a passkey): starts a session carrying that proof, issues its tokens and a fresh
   * device token, and records `login.succeeded` (with `details`) and any session the cap evicted.
   * The caller has checked the credentials and that the account may log in. `provedSince`: when
   * the first of the proofs was checked (a login in two steps: the password), if before
   * `proof.authTime`; a revocation of the user's sessions after it (a password change, a
   * disabling) refuses the login.
   */
  async signIn(
    user: User,
    proof: AuthenticationContext,
    client: ClientInfo,
    details: Record<string, unknown> = {},
    provedSince: number = proof.authTime,
  ): Promise<IssuedTokens> {
    const started = await this.sessions.start(user.id, client, proof, provedSince);
    if (!started) {
      // The password changed or the account was disabled while this login was being checked.
      throw await this.loginFailed(user.id, 'sessions_revoked_meanwhile', client, Problems.invalidCredentials());
    }
    const { session, refreshToken, evicted } = started;
    const { accessToken, expiresIn } = this.tokens.issueAccessToken(user, session);
    this.metrics.loginSucceeded();
    await this.events.record({
      type: 'login.succeeded',
      userId: user.id,
      sessionId: session.id,
      details: { ...details, amr: proof.amr, acr: proof.acr },
      context: client,
    });
    for (const sessionId of evicted) {
      await this.events.record({
        type: 'session.revoked',
        userId: user.id,
        sessionId,
        details: { reason: 'cap', by: session.id },
        context: client,
      });
    }
    return { accessToken, expiresIn, session, refreshToken, deviceToken: this.devices.issue(user.id).token };
  }

  /** A refused login (any method): counted, recorded as `login.failed` with its reason (admins see it), and the problem to throw. */
  async loginFailed(userId: string | undefined, reason: string, client: ClientInfo, problem: ProblemException): Promise<ProblemException> {
    this.metrics.loginFailed();
    await this.events.record({ type: 'login.failed', outcome: 'failure', userId, details: { reason }, context: client });
    return problem;
  }

  /**
   * Best effort: the stored hash was made from a non-normalised form of this password; store the
   * NFKC one instead, unless the hash changed meanwhile. A failure (hashing busy, database) is
   * logged and the login goes on: the old hash keeps verifying, and the next login tries again.
   */
  private async rehash(userId: string, oldHash: string, password: string): Promise<void> {
    try {
      const replaced = await this.users.replacePasswordHash(userId, oldHash, await this.passwords.hash(password));
      if (replaced) this.logger.log(`Password hash of user ${userId} replaced by one of its NFKC form`);
    } catch (error) {
      this.logger.warn(
        `Password rehash of user ${userId} failed (${error instanceof Error ? error.message : String(error)}); will retry on a later login`,
      );
    }
  }

  /**
   * POST /auth/reauthenticate: the caller proves who they are again, and the session records the
   * new proof, worth what was proved: a password alone or a TOTP code alone is aal1 (amr ["pwd"]
   * or ["otp"]); a password with a TOTP code or a recovery code is aal2 (["pwd", "otp", "mfa"]). The
   * new proof replaces auth_time, amr and acr (what a route asks for is how recent a proof of which
   * strength is, and that is this one). A code needs a confirmed TOTP factor (409
   * `mfa_not_enabled`). Wrong passwords and wrong codes count against the account's login lockout
   * (LoginThrottle), exactly like failed logins, and a valid device token of the account (the
   * browser's device cookie) exempts its holder from that lockout as it does at login; wrong codes
   * also count against the account's code allowance (SecondFactorCheck). Returns a new access
   * token for the same session; its refresh token does not change.
   */
  async reauthenticate(
    principal: AuthenticatedUser,
    proofs: ReauthenticationProofs,
    context: RequestContext,
    presentedDevice?: string,
  ): Promise<IssuedAccessToken> {
    const authenticatedAt = Date.now();
    // Fresh from the database: whether the account is disabled must not trail a change.
    const user = await this.users.findFresh(principal.id);
    if (!user) throw Problems.sessionRevoked();
    const code: CodeProof | undefined =
      proofs.code !== undefined
        ? { code: proofs.code }
        : proofs.recoveryCode !== undefined
          ? { recoveryCode: proofs.recoveryCode }
          : undefined;
    if (code && !(await this.totp.isEnabled(user.id))) throw Problems.mfaNotEnabled();
    const device = this.devices.verify(presentedDevice, user.id);
    const admitted = await this.throttle.takeSlot(user.email, device);
    if ('retryAfter' in admitted) {
      await this.recordReauthentication(principal, 'failure', { reason: 'locked' }, context);
      throw Problems.rateLimited(admitted.retryAfter);
    }
    if (proofs.password !== undefined) {
      const { ok } = await this.passwords.check(await this.users.findPasswordHash(user.id), proofs.password);
      if (!ok || user.disabled) {
        if (!ok) await this.throttle.failed(user.email, admitted.slot);
        else await this.throttle.passed(admitted.slot);
        await this.recordReauthentication(principal, 'failure', { reason: ok ? 'disabled' : 'wrong_password' }, context);
        throw Problems.invalidCredentials();
      }
    } else if (user.disabled) {
      await this.throttle.passed(admitted.slot);
      await this.recordReauthentication(principal, 'failure', { reason: 'disabled' }, context);
      throw Problems.invalidCredentials();
    }
    if (code) {
      try {
        await this.secondFactor.verify(user.id, code, context, 'reauthentication', {
          sessionId: principal.sessionId,
          knownDevice: Boolean(device),
        });
      } catch (error) {
        const refusal = codeRefusal(error);
        await (refusal === 'wrong_code' ? this.throttle.failed(user.email, admitted.slot) : this.throttle.passed(admitted.slot));
        if (refusal) await this.recordReauthentication(principal, 'failure', { reason: refusal }, context);
        throw error;
      }
    }
    await this.throttle.passed(admitted.slot);
    const proof = !code
      ? passwordProof(authenticatedAt)
      : proofs.password !== undefined
        ? passwordAndCodeProof(authenticatedAt)
        : codeProof(authenticatedAt);
    return this.completeReauthentication(principal, user, proof, context);
  }

  /**
   * The last step of every reauthentication, whatever was proved (password, code, passkey): the
   * session records the new proof (replacing what it had), and the caller gets an access token for
   * the same session that carries it. A session that ended meanwhile (logout, a password change
   * elsewhere, an admin) has nothing to renew: 401 `session_revoked`.
   */
  async completeReauthentication(
    principal: AuthenticatedUser,
    user: User,
    proof: AuthenticationContext,
    context: RequestContext,
  ): Promise<IssuedAccessToken> {
    const ends = await this.sessions.updateAuthentication(user.id, principal.sessionId, proof);
    if (!ends) throw Problems.sessionRevoked();
    const issued = this.tokens.issueAccessToken(user, { id: principal.sessionId, ...proof, ...ends });
    await this.recordReauthentication(principal, 'success', { amr: proof.amr, acr: proof.acr }, context);
    return issued;
  }

  /** Records a `reauthenticated` event; failures carry their reason in `details`. */
  recordReauthentication(
    principal: AuthenticatedUser,
    outcome: 'success' | 'failure',
    details: Record<string, unknown>,
    context: RequestContext,
  ): Promise<void> {
    return this.events.record({ type: 'reauthenticated', outcome, userId: principal.id, sessionId: principal.sessionId, details, context });
  }

  /** Ends every session of the user, this one included. */
  async logoutAllDevices(user: { id: string; sessionId: string }, context: RequestContext): Promise<void> {
    // Whoever is being logged out may have asked for a reset or an email change: those end too.
    await this.users.cancelPendingLinks(user.id);
    const count = await this.sessions.revokeAll(user.id);
    await this.events.record({
      type: 'sessions.revoked_all',
      userId: user.id,
      sessionId: user.sessionId,
      details: { reason: 'logout_all', count },
      context,
    });
  }

  /**
   * The policy on the new password first (400 `weak_password` naming `newPassword`, before any
   * argon2 work), then verifies the current password, stores the new one and ends every other
   * session. (A current hash of a non-normalised password is replaced here anyway.)
   */
  async changePassword(
    user: { id: string; sessionId: string },
    currentPassword: string,
    newPassword: string,
    context: RequestContext,
  ): Promise<void> {
    const { email } = await this.users.getById(user.id);
    this.policy.check(newPassword, { email, field: 'newPassword' });
    const storedHash = await this.users.findPasswordHash(user.id);
    if (!(await this.passwords.verify(storedHash, currentPassword))) {
      await this.events.record({
        type: 'password.changed',
        outcome: 'failure',
        userId: user.id,
        sessionId: user.sessionId,
        details: { reason: 'wrong_current_password' },
        context,
      });
      throw Problems.validation([{ field: 'currentPassword', message: 'currentPassword is incorrect' }]);
    }
    await this.users.setPasswordHash(user.id, await this.passwords.hash(newPassword));
    await this.events.record({ type: 'password.changed', userId: user.id, sessionId: user.sessionId, context });
    const count = await this.sessions.revokeAll(user.id, user.sessionId);
    await this.events.record({
      type: 'sessions.revoked_all',
      userId: user.id,
      sessionId: user.sessionId,
      details: { reason: 'password_changed', count, kept: user.sessionId },
      context,
    });
  }

  /** DELETE /auth/sessions/:id: ends one of the caller's own sessions; false when there was none. */
  async revokeSession(user: { id: string; sessionId: string }, sessionId: string, context: RequestContext): Promise<boolean> {
    if (!(await this.sessions.revoke(user.id, sessionId))) return false;
    await this.events.record({
      type: 'session.revoked',
      userId: user.id,
      sessionId,
      details: { reason: 'user', by: user.sessionId },
      context,
    });
    return true;
  }

  /**
   * Ends the current session, identified by the Bearer token or else by the refresh token.
   * A valid Bearer whose session has already ended is a successful (idempotent) logout; a genuine
   * but older refresh token of a live session ends it too (it is reuse).
   */
  async logout(bearer: string | undefined, refreshToken: string | undefined, context: RequestContext): Promise<void> {
    if (bearer !== undefined) {
      try {
        const claims = this.tokens.verifyAccessToken(bearer);
        // Only a session that actually ended is an event; a repeated logout is not.
        if (await this.sessions.revoke(claims.sub, claims.sid)) await this.recordLogout(claims.sub, claims.sid, context);
        return;
      } catch (error) {
        // An expired access token should not stop a logout the refresh token can prove.
        if (refreshToken === undefined) throw error;
      }
    }
    if (refreshToken === undefined) throw Problems.missingToken();
    const ended = await this.sessions.revokeWithRefreshToken(refreshToken);
    if (!ended) throw Problems.invalidRefreshToken();
    await this.recordLogout(ended.userId, ended.sessionId, context);
  }

  private recordLogout(userId: string, sessionId: string, context: RequestContext): Promise<void> {
    return this.events.record({ type: 'session.revoked', userId, sessionId, details: { reason: 'logout' }, context });
  }
}

/** What a SecondFactorCheck refusal was: a wrong code, the account's code allowance used up, or (undefined) no refusal at all. */
function codeRefusal(error: unknown): 'wrong_code' | 'mfa_locked' | undefined {
  const code = (error as { code?: unknown }).code;
  return code === 'invalid_code' ? 'wrong_code' : code === 'rate_limited' ? 'mfa_locked' : undefined;
}
