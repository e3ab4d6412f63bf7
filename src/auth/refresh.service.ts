import { Inject, Injectable } from '@nestjs/common';
import type { ConfigType } from '@nestjs/config';
import type { RequestContext } from '../audit/security-event.js';
import { SecurityEventsService } from '../audit/security-events.service.js';
import { Problems } from '../common/problems/problem.js';
import { throttleConfig } from '../config/configuration.js';
import { RateLimiter } from '../throttling/rate-limit.js';
import { AuthMetrics } from '../metrics/auth-metrics.js';
import type { User } from '../users/user.js';
import { UsersService } from '../users/users.service.js';
import type { IssuedTokens } from './auth-cookies.js';
import type { SessionInfo } from './sessions/session-store.js';
import { SessionService } from './sessions/session.service.js';
import { TokenService } from './tokens/token.service.js';

/**
 * Refresh-token rotation policy. SessionService rotates (the store's compare-and-swap); this
 * decides what each outcome means for the client.
 */
@Injectable()
export class RefreshService {
  constructor(
    private readonly sessions: SessionService,
    private readonly tokens: TokenService,
    private readonly users: UsersService,
    private readonly metrics: AuthMetrics,
    private readonly limiter: RateLimiter,
    @Inject(throttleConfig.KEY) private readonly throttle: ConfigType<typeof throttleConfig>,
    private readonly events: SecurityEventsService,
  ) {}

  async refresh(presented: string | undefined, context: RequestContext = {}): Promise<IssuedTokens> {
    // Only tokens this server minted get as far as the store.
    const token = this.sessions.readRefreshToken(presented);
    if (!token) {
      this.metrics.refreshed('invalid');
      throw presented === undefined ? Problems.invalidRefreshToken('No refresh token was sent') : Problems.invalidRefreshToken();
    }
    const { userId, sessionId, generation } = token;
    // The per-account limit counts successful rotations only: replaying garbage or a dead token
    // that names a user cannot use up that user's refreshes. Checked before, counted after.
    const limited = await this.limiter.exhausted('refresh-account', userId, this.throttle.refreshLimit);
    if (limited !== undefined) throw Problems.rateLimited(limited);
    // Everything that can fail (the user record, from the database or the cache) comes before the
    // rotation commits: once it has, nothing may turn the answer into an error, or the client's
    // retry after the grace window would look like a stolen token.
    const user = await this.users.findById(userId);
    const result = await this.sessions.rotate(token);
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
      case 'grace':
        // Unreadable only if its server secret left the ring within the window: ask for a login.
        if (!result.refreshToken) throw Problems.invalidRefreshToken();
        // Best effort: after the commit a failing counter must not turn the answer into an error.
        await this.limiter.record('refresh-account', userId).catch(() => undefined);
        return this.issue(user, result.session, result.refreshToken, context);
    }
  }

  private async issue(user: User | undefined, session: SessionInfo, refreshToken: string, context: RequestContext): Promise<IssuedTokens> {
    if (!user || user.disabled) {
      if (await this.sessions.revoke(session.userId, session.id)) {
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
    // The session's stored proof, unchanged: a refresh proves nothing about the user.
    const { accessToken, expiresIn } = this.tokens.issueAccessToken(user, session);
    return { accessToken, expiresIn, session, refreshToken };
  }
}
