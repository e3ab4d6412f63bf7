import { randomUUID } from 'node:crypto';
import { Inject, Injectable } from '@nestjs/common';
import type { ConfigType } from '@nestjs/config';
import { JwtService } from '@nestjs/jwt';
import type { Algorithm, VerifyOptions } from 'jsonwebtoken';
import { Problems } from '../../common/problem.js';
import { authConfig } from '../../config/configuration.js';
import { ACCESS_TOKEN_TYPE, type AccessTokenClaims } from './access-token.js';
import { KeyService } from './key.service.js';

export interface IssuedAccessToken {
  accessToken: string;
  expiresIn: number;
}

/** Issues access tokens and defines, in one place, how they are verified. */
@Injectable()
export class TokenService {
  constructor(
    private readonly jwt: JwtService,
    private readonly keys: KeyService,
    @Inject(authConfig.KEY) private readonly auth: ConfigType<typeof authConfig>,
  ) {}

  issueAccessToken(user: { id: string; roles: string[] }, sessionId: string): IssuedAccessToken {
    const key = this.keys.signing;
    const accessToken = this.jwt.sign(
      { sid: sessionId, roles: user.roles },
      {
        privateKey: key.privateKey,
        algorithm: key.alg,
        header: { alg: key.alg, typ: ACCESS_TOKEN_TYPE, kid: key.kid },
        expiresIn: this.auth.accessTokenTtl,
        issuer: this.auth.issuer,
        audience: this.auth.audience,
        subject: user.id,
        jwtid: randomUUID(),
      },
    );
    return { accessToken, expiresIn: this.auth.accessTokenTtl };
  }

  /** jsonwebtoken options: algorithm pinned, issuer, audience, small leeway; `complete` exposes the header. */
  get verifyOptions(): VerifyOptions & { complete: true } {
    return {
      algorithms: this.keys.algorithms as Algorithm[],
      issuer: this.auth.issuer,
      audience: this.auth.audience,
      clockTolerance: this.auth.clockToleranceSeconds,
      complete: true,
    };
  }

  /** The public key for a token's header `kid`, or undefined for unknown kids. */
  keyForToken(rawJwt: string) {
    const header = this.jwt.decode<{ header?: { kid?: unknown } } | null>(rawJwt, { complete: true })?.header;
    return this.keys.forKid(header?.kid)?.key;
  }

  /**
   * Verifies an access token outside the guard (logout accepts one without requiring it), with
   * exactly the guard's rules. Throws the same problems the guard answers with.
   */
  verifyAccessToken(rawJwt: string): AccessTokenClaims {
    const key = this.keyForToken(rawJwt);
    if (!key) throw Problems.invalidToken();
    let verified: { header: { typ?: unknown }; payload: Partial<AccessTokenClaims> };
    try {
      verified = this.jwt.verify(rawJwt, { ...this.verifyOptions, publicKey: key } as never);
    } catch (error) {
      throw (error as Error).name === 'TokenExpiredError' ? Problems.tokenExpired() : Problems.invalidToken();
    }
    if (!TokenService.hasValidShape(verified.header, verified.payload)) throw Problems.invalidToken();
    return verified.payload;
  }

  /** Checks claims the JWT library does not: the RFC 9068 type and Tessera's own claims. */
  static hasValidShape(header: { typ?: unknown }, claims: Partial<AccessTokenClaims>): claims is AccessTokenClaims {
    return (
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
