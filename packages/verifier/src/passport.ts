import { type ExecutionContext, Inject, Injectable } from '@nestjs/common';
import { Reflector } from '@nestjs/core';
import { AuthGuard, PassportStrategy } from '@nestjs/passport';
import { Strategy } from 'passport-custom';
import { bearerToken, checkRequirements } from './authorization.js';
import type { AuthenticatedUser } from './claims.js';
import { Problems } from './problems.js';
import { TesseraVerifier } from './verifier.service.js';

/** The strategy's name: compose `AuthGuard('tessera')` like any passport strategy. */
export const TESSERA_STRATEGY = 'tessera';

/**
 * A `@nestjs/passport` strategy named `tessera`, for services that compose guards the passport way.
 * It asks the same TesseraVerifier as TesseraGuard (one JWKS, one feed, one revocation set). Add it
 * to a module's providers, with TesseraVerifierModule imported with `globalGuard: false` (or mark
 * the passport routes @Public() for the global guard).
 */
@Injectable()
export class TesseraStrategy extends PassportStrategy(Strategy, TESSERA_STRATEGY) {
  constructor(@Inject(TesseraVerifier) private readonly verifier: TesseraVerifier) {
    super();
  }

  /** passport-custom hands the request; what it returns becomes `request.user`, what it throws the answer. */
  async validate(request: { headers: Record<string, string | string[] | undefined> }): Promise<AuthenticatedUser> {
    const raw = bearerToken(request.headers);
    if (raw === undefined) throw Problems.missingToken();
    return this.verifier.verify(raw);
  }
}

/**
 * `AuthGuard('tessera')` that also applies @Auth(...roles) and @RecentAuth() after the strategy,
 * and passes the verifier's problems (401 with Tessera's codes, 503) through unchanged.
 */
@Injectable()
export class TesseraAuthGuard extends AuthGuard(TESSERA_STRATEGY) {
  constructor(
    @Inject(Reflector) private readonly reflector: Reflector,
    @Inject(TesseraVerifier) private readonly verifier: TesseraVerifier,
  ) {
    super();
  }

  override async canActivate(context: ExecutionContext): Promise<boolean> {
    await (super.canActivate(context) as Promise<boolean>);
    const user = context.switchToHttp().getRequest<{ user: AuthenticatedUser }>().user;
    checkRequirements(this.reflector, context, user, this.verifier.options.reauthMaxAgeSeconds);
    return true;
  }
}
