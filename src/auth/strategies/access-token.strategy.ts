import { Injectable } from '@nestjs/common';
import { PassportStrategy } from '@nestjs/passport';
import type { Algorithm } from 'jsonwebtoken';
import { ExtractJwt, Strategy } from 'passport-jwt';
import { Problems } from '../../common/problem.js';
import { SessionService } from '../sessions/session.service.js';
import type { AccessTokenClaims, AuthenticatedUser } from '../tokens/access-token.js';
import { TokenService } from '../tokens/token.service.js';

class UnknownKeyError extends Error {}

/**
 * passport-jwt verifies signature (algorithm pinned), `iss`, `aud`, `exp`; `validate` adds the
 * RFC 9068 `typ` and the one store question per request: is the session still alive?
 */
@Injectable()
export class AccessTokenStrategy extends PassportStrategy(Strategy, 'access-token') {
  constructor(
    tokens: TokenService,
    private readonly sessions: SessionService,
  ) {
    const { algorithms, issuer, audience, ...jsonWebTokenOptions } = tokens.verifyOptions;
    super({
      jwtFromRequest: ExtractJwt.fromAuthHeaderAsBearerToken(),
      algorithms: algorithms as Algorithm[],
      issuer: issuer as string,
      audience: audience as string,
      jsonWebTokenOptions,
      // Keys are KeyObjects parsed once at start-up; jsonwebtoken accepts them though the type says string|Buffer.
      secretOrKeyProvider: (_request: unknown, rawJwt: string, done: (error: Error | null, key?: string) => void) => {
        const key = tokens.keyForToken(rawJwt);
        if (key) done(null, key as unknown as string);
        else done(new UnknownKeyError('unknown key id'));
      },
    });
  }

  async validate(token: { header: { typ?: unknown }; payload: Partial<AccessTokenClaims> }): Promise<AuthenticatedUser> {
    if (!TokenService.hasValidShape(token.header, token.payload)) throw Problems.invalidToken();
    const { sub, sid, roles } = token.payload;
    if (!(await this.sessions.isAlive(sub, sid))) throw Problems.sessionRevoked();
    return { id: sub, sessionId: sid, roles };
  }
}
