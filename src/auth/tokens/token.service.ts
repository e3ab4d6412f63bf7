import { randomUUID } from 'node:crypto';
import { Inject, Injectable } from '@nestjs/common';
import type { ConfigType } from '@nestjs/config';
import { JwtService } from '@nestjs/jwt';
import type { Algorithm, VerifyOptions } from 'jsonwebtoken';
import { Problems } from '../../common/problems/problem.js';
import { authConfig } from '../../config/configuration.js';
import { ACCESS_TOKEN_TYPE, type AccessTokenClaims } from './access-token.js';
import { rolesNotBefore } from '../../users/user.js';
import { ACR_AAL1, type AuthenticationContext, isAcr, isAmrList } from './authentication-context.js';
import { KeyService } from './key.service.js';
import { VerifiedTokenCache } from './verified-token-cache.js';

export interface IssuedAccessToken {
  accessToken: string;
  expiresIn: number;
}

/** Issues access tokens, and verifies them: the one place that decides whether a JWT is acceptable. */
@Injectable()
export class TokenService {
  private readonly verifyOptions: VerifyOptions & { complete: true };
  private readonly verified: VerifiedTokenCache;

  constructor(
    private readonly jwt: JwtService,
    private readonly keys: KeyService,
    @Inject(authConfig.KEY) private readonly auth: ConfigType<typeof authConfig>,
  ) {
    // Algorithm pinned to the keys we hold, issuer, audience, small leeway; `complete` exposes the header.
    this.verifyOptions = {
      algorithms: keys.algorithms as Algorithm[],
      issuer: auth.issuer,
      audience: auth.audience,
      clockTolerance: auth.clockToleranceSeconds,
      complete: true,
    };
    this.verified = new VerifiedTokenCache(10_000, auth.clockToleranceSeconds);
  }

  /**
   * An access token for the session, carrying how its user last proved who they are (never
   * refreshed here). It never outlives its session: `exp` is ACCESS_TOKEN_TTL from now or the
   * session's end (idle or absolute), whichever is first, so a session that simply expires needs no
   * revocation event for the verifiers elsewhere.
   */
  issueAccessToken(
    user: { id: string; roles: string[]; rolesChangedAt?: Date },
    session: { id: string; expiresAt: number; absoluteExpiresAt: number } & AuthenticationContext,
  ): IssuedAccessToken {
    const key = this.keys.signing;
    // A role change tells other services to refuse the user's tokens with iat < the second after it
    // (the revocation feed's `user` event). A token minted from the changed record within that same
    // second is stamped with the next one (a future iat by under a second, well within every
    // verifier's clock tolerance), so it is never wrongly refused.
    const issuedAt = Math.max(Math.floor(Date.now() / 1000), rolesNotBefore(user));
    const sessionEnd = Math.floor(Math.min(session.expiresAt, session.absoluteExpiresAt) / 1000);
    const expiresIn = Math.max(0, Math.min(this.auth.accessTokenTtl, sessionEnd - issuedAt));
    const accessToken = this.jwt.sign(
      {
        // Set here rather than by the library, so `exp - iat` is exactly `expiresIn` below.
        iat: issuedAt,
        sid: session.id,
        roles: user.roles,
        auth_time: Math.floor(session.authTime / 1000),
        amr: session.amr,
        acr: session.acr,
      },
      {
        privateKey: key.privateKey,
        algorithm: key.alg,
        header: { alg: key.alg, typ: ACCESS_TOKEN_TYPE, kid: key.kid },
        expiresIn,
        issuer: this.auth.issuer,
        audience: this.auth.audience,
        subject: user.id,
        jwtid: randomUUID(),
      },
    );
    return { accessToken, expiresIn };
  }

  /**
   * Verifies an access token: signature by the key its `kid` names (unknown kids refused, never
   * guessed), algorithm pinned, `iss`, `aud`, `exp` with leeway, `typ: at+jwt` and Tessera's claims.
   * Throws `token_expired` or `invalid_token`. Whether its session is alive is the caller's next question.
   */
  verifyAccessToken(rawJwt: string): AccessTokenClaims {
    const cached = this.verified.get(rawJwt);
    if (cached) return cached;
    const kid = this.jwt.decode<{ header?: { kid?: unknown } } | null>(rawJwt, { complete: true })?.header?.kid;
    const key = this.keys.forKid(kid);
    if (!key) throw Problems.invalidToken();
    let verified: { header: { typ?: unknown }; payload: Partial<AccessTokenClaims> };
    try {
      // Pinned to the algorithm of the key this `kid` names.
      verified = this.jwt.verify(rawJwt, { ...this.verifyOptions, algorithms: [key.alg], publicKey: key.key } as never);
    } catch (error) {
      throw (error as Error).name === 'TokenExpiredError' ? Problems.tokenExpired() : Problems.invalidToken();
    }
    const claims = TokenService.withLegacyAuthentication(verified.payload);
    if (!TokenService.hasValidShape(verified.header, claims, this.auth.clockToleranceSeconds)) throw Problems.invalidToken();
    this.verified.set(rawJwt, claims);
    return claims;
  }

  /**
   * Tokens signed before sessions recorded how the user proved who they are carry none of
   * `auth_time`, `amr`, `acr`. Refusing them would log every user out during a rolling deploy
   * (clients refresh only on `token_expired`); they are read as a password login of unknown age
   * instead, which passes ordinary routes and fails every `@RecentAuth` check. A token with only
   * some of the three is malformed and still refused.
   */
  static withLegacyAuthentication(claims: Partial<AccessTokenClaims>): Partial<AccessTokenClaims> {
    if (claims.auth_time !== undefined || claims.amr !== undefined || claims.acr !== undefined) return claims;
    return { ...claims, auth_time: 1, amr: ['pwd'], acr: ACR_AAL1 };
  }

  /**
   * Checks claims the JWT library does not: the RFC 9068 type and Tessera's own claims. `auth_time`
   * must be a whole NumericDate no later than the token's issue (plus leeway), `amr` a non-empty
   * list of known, distinct methods, `acr` one of our levels.
   */
  static hasValidShape(header: { typ?: unknown }, claims: Partial<AccessTokenClaims>, leewaySeconds = 0): claims is AccessTokenClaims {
    return (
      Number.isSafeInteger(claims.auth_time) &&
      claims.auth_time! > 0 &&
      typeof claims.iat === 'number' &&
      claims.auth_time! <= claims.iat + leewaySeconds &&
      isAmrList(claims.amr) &&
      isAcr(claims.acr) &&
      header.typ === ACCESS_TOKEN_TYPE &&
      typeof claims.sub === 'string' &&
      typeof claims.sid === 'string' &&
      typeof claims.jti === 'string' &&
      typeof claims.exp === 'number' &&
      Array.isArray(claims.roles) &&
      claims.roles.every((r) => typeof r === 'string')
    );
  }
}
