import { Inject, Injectable } from '@nestjs/common';
import type { ConfigType } from '@nestjs/config';
import type { RequestContext } from '../../audit/security-event.js';
import { SecurityEventsService } from '../../audit/security-events.service.js';
import { Problems } from '../../common/problems/problem.js';
import { authConfig, throttleConfig } from '../../config/configuration.js';
import { RateLimiter } from '../../throttling/rate-limit.js';
import { AuthMetrics } from '../../metrics/auth-metrics.js';
import { UsersService } from '../../users/users.service.js';
import { hashSecret, RefreshTokenCodec, SuccessorSealer } from '../tokens/refresh-token.js';
import { TokenService } from '../tokens/token.service.js';
import type { IssuedTokens } from '../refresh-cookie.js';
import { SESSION_STORE, type SessionInfo, type SessionStore } from './session-store.js';


/**
 * Refresh-token rotation policy. The store does the compare-and-swap atomically; this decides
 * what each outcome means for the client.
 */
@Injectable()
export class RefreshService {
  constructor(
    @Inject(SESSION_STORE) private readonly store: SessionStore,
    @Inject(authConfig.KEY) private readonly auth: ConfigType<typeof authConfig>,
    private readonly tokens: TokenService,
    private readonly users: UsersService,
    private readonly metrics: AuthMetrics,
    private readonly refreshTokens: RefreshTokenCodec,
    private readonly sealer: SuccessorSealer,
    private readonly limiter: RateLimiter,
    @Inject(throttleConfig.KEY) private readonly throttle: ConfigType<typeof throttleConfig>,
    private readonly events: SecurityEventsService,
  ) {}

  async refresh(presented: string | undefined, context: RequestContext = {}): Promise<IssuedTokens> {
    // Only tokens this server minted get as far as the store.
    const token = this.refreshTokens.read(presented);
    if (!token) {
      this.metrics.refreshed('invalid');
      throw presented === undefined ? Problems.invalidRefreshToken('No refresh token was sent') : Problems.invalidRefreshToken();
    }
    const { userId, sessionId, generation } = token;
    // Charged to the account only now that the server tag verified: garbage naming a user id
    // cannot use up that user's refreshes.
    await this.limiter.consume('refresh-account', userId, this.throttle.refreshLimit);
    const successor = this.refreshTokens.mint(userId, sessionId, generation + 1);
    const result = await this.store.rotate({
      userId,
      sessionId,
      generation,
      presentedHash: hashSecret(token.secret),
      nextHash: hashSecret(successor.secret),
      sealedSuccessor: this.sealer.seal(successor.token, sessionId),
      now: Date.now(),
      idleTtlMs: this.auth.refreshTokenTtl * 1000,
      graceMs: this.auth.refreshReuseGraceSeconds * 1000,
    });
    if (result.status === 'late') throw Problems.serviceUnavailable();
    this.metrics.refreshed(result.status);

    switch (result.status) {
      case 'reused':
        // Theft (or a badly broken client): the session has been ended; worth an alert.
        await this.events.record({
          type: 'refresh.reused',
          outcome: 'failure',
          userId,
          sessionId,
          details: { generation, action: 'session_revoked' },
          context,
        });
        throw Problems.refreshReused();
      case 'invalid':
        throw Problems.invalidRefreshToken();
      case 'rotated':
        return this.issue(result.session, successor.token, context);
      case 'grace': {
        const same = this.sealer.open(result.sealedSuccessor, sessionId);
        // Unreadable only if its server secret left the ring within the window: ask for a login.
        if (!same) throw Problems.invalidRefreshToken();
        return this.issue(result.session, same, context);
      }
    }
  }

  private async issue(session: SessionInfo, refreshToken: string, context: RequestContext): Promise<IssuedTokens> {
    const user = await this.users.findById(session.userId);
    if (!user || user.disabled) {
      if (await this.store.revoke(session.userId, session.id)) {
        await this.events.record({
          type: 'session.revoked',
          userId: session.userId,
          sessionId: session.id,
          details: { reason: user ? 'disabled' : 'user_deleted' },
          context,
        });
      }
      throw Problems.invalidRefreshToken();
    }
    const { accessToken, expiresIn } = this.tokens.issueAccessToken(user, session.id);
    return { accessToken, expiresIn, session, refreshToken };
  }
}
