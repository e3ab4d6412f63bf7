import { Inject, Injectable } from '@nestjs/common';
import type { ConfigType } from '@nestjs/config';
import type { RequestContext } from '../audit/security-event.js';
import { SecurityEventsService } from '../audit/security-events.service.js';
import { Problems } from '../common/problems/problem.js';
import { authConfig } from '../config/configuration.js';
import type { AccessTokenClaims } from '../auth/tokens/access-token.js';
import { SessionService } from '../auth/sessions/session.service.js';
import { TokenService } from '../auth/tokens/token.service.js';
import { UsersService } from '../users/users.service.js';

/** RFC 7662 §2.2 answer: `{active: false}` alone, or the token's facts. */
export type Introspection =
  | { active: false }
  | {
      active: true;
      token_use: 'access' | 'refresh';
      sub: string;
      sid: string;
      exp: number;
      iat: number;
      iss: string;
      aud: string | string[];
      roles: string[];
      auth_time: number;
      acr: string;
      amr: string[];
      jti?: string;
    };

const INACTIVE: Introspection = Object.freeze({ active: false });

/** Longer than any token Tessera mints (a JWT is well under 2 KiB); anything longer is simply not one. */
const MAX_TOKEN_LENGTH = 4096;

/** A JWS compact serialisation has three parts; refresh tokens have five or six (see RefreshTokenCodec). */
const looksLikeJwt = (token: string) => token.split('.').length === 3;

/**
 * RFC 7662 introspection and RFC 7009 revocation, for services that cannot verify tokens and follow
 * the revocation feed themselves (not written in Node). The token's shape says what it is; the
 * `token_type_hint` is only a hint (RFC 7662 §2.1, RFC 7009 §2.1), so it is not needed.
 */
@Injectable()
export class OAuthService {
  constructor(
    private readonly tokens: TokenService,
    private readonly sessions: SessionService,
    private readonly users: UsersService,
    private readonly events: SecurityEventsService,
    @Inject(authConfig.KEY) private readonly auth: ConfigType<typeof authConfig>,
  ) {}

  /**
   * Active only when Tessera itself would accept the token right now: an access token that verifies
   * (signature, `kid`, `iss`, `aud`, `exp`, shape) with a live session, or the *current* refresh
   * token of a live session; and in both cases a user who exists and is not disabled. Reads only:
   * introspecting an older refresh token is not treated as reuse (it ends nothing) and consumes nothing.
   * Storage outages propagate (503): "inactive" would be a guess.
   */
  async introspect(form: unknown): Promise<Introspection> {
    const token = tokenOf(form);
    if (token.length > MAX_TOKEN_LENGTH) return INACTIVE;
    return looksLikeJwt(token) ? this.introspectAccess(token) : this.introspectRefresh(token);
  }

  /**
   * Ends the session of a refresh token (current or older: as a logout does) or of an access token
   * that verifies. Answers alike whatever happened (RFC 7009 §2.2): unknown, forged, expired or
   * already revoked tokens are not errors. An expired access token ends nothing: Tessera verifies
   * access tokens only within their lifetime (TokenService), and its session's refresh token can be revoked instead.
   */
  async revoke(form: unknown, context: RequestContext & { client?: string }): Promise<void> {
    const token = tokenOf(form);
    if (token.length > MAX_TOKEN_LENGTH) return;
    let ended: { userId: string; sessionId: string } | undefined;
    if (looksLikeJwt(token)) {
      const claims = this.verifiedOrUndefined(token);
      if (claims && (await this.sessions.revoke(claims.sub, claims.sid))) ended = { userId: claims.sub, sessionId: claims.sid };
    } else {
      ended = await this.sessions.revokeWithRefreshToken(token);
    }
    if (!ended) return;
    const { client, ...request } = context;
    await this.events.record({
      type: 'session.revoked',
      userId: ended.userId,
      sessionId: ended.sessionId,
      details: { reason: 'oauth_revoke', ...(client ? { client } : {}) },
      context: request,
    });
  }

  private async introspectAccess(token: string): Promise<Introspection> {
    const claims = this.verifiedOrUndefined(token);
    if (!claims || !(await this.sessions.isAlive(claims.sub, claims.sid))) return INACTIVE;
    const user = await this.users.findById(claims.sub);
    if (!user || user.disabled) return INACTIVE;
    return {
      active: true,
      token_use: 'access',
      sub: claims.sub,
      sid: claims.sid,
      exp: claims.exp,
      iat: claims.iat,
      iss: claims.iss,
      aud: claims.aud,
      roles: user.roles,
      auth_time: claims.auth_time,
      acr: claims.acr,
      amr: claims.amr,
      jti: claims.jti,
    };
  }

  private async introspectRefresh(token: string): Promise<Introspection> {
    const session = await this.sessions.inspectRefreshToken(token);
    if (!session) return INACTIVE;
    const user = await this.users.findById(session.userId);
    if (!user || user.disabled) return INACTIVE;
    const seconds = (ms: number) => Math.floor(ms / 1000);
    return {
      active: true,
      token_use: 'refresh',
      sub: session.userId,
      sid: session.id,
      // The session ends at its idle expiry unless this token is used first.
      exp: seconds(session.expiresAt),
      // Minted at the login or at the rotation that last used the session.
      iat: seconds(session.lastUsedAt),
      iss: this.auth.issuer,
      aud: this.auth.audience,
      roles: user.roles,
      auth_time: seconds(session.authTime),
      acr: session.acr,
      amr: session.amr,
    };
  }

  /** Claims of an access token Tessera accepts (the same checks as its guard), else undefined. */
  private verifiedOrUndefined(token: string): AccessTokenClaims | undefined {
    try {
      return this.tokens.verifyAccessToken(token);
    } catch {
      return undefined;
    }
  }
}

/** The `token` parameter (RFC 7662 §2.1, RFC 7009 §2.1): required, and a non-empty string. */
function tokenOf(form: unknown): string {
  const token = typeof form === 'object' && form !== null ? (form as Record<string, unknown>).token : undefined;
  if (typeof token !== 'string' || token === '') throw Problems.invalidRequest('The form parameter `token` is required');
  return token;
}
