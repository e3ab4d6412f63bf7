import { Inject, Injectable } from '@nestjs/common';
import type { ConfigType } from '@nestjs/config';
import { Problems } from '../../common/problem.js';
import { authConfig } from '../../config/configuration.js';
import { AuthMetrics } from '../../metrics/auth-metrics.js';
import { UsersService } from '../../users/users.service.js';
import { KeyService } from '../tokens/key.service.js';
import { formatRefreshToken, hashSecret, newSecret, parseRefreshToken, SuccessorSealer } from '../tokens/refresh-token.js';
import { TokenService } from '../tokens/token.service.js';
import { SESSION_STORE, type SessionInfo, type SessionStore } from './session-store.js';

export interface RefreshResult {
  accessToken: string;
  expiresIn: number;
  session: SessionInfo;
  /** The successor refresh token (the same one again inside the grace window). */
  refreshToken: string;
}

/**
 * Refresh-token rotation policy. The store does the compare-and-swap atomically; this decides
 * what each outcome means for the client.
 */
@Injectable()
export class RefreshService {
  private readonly sealer: SuccessorSealer;

  constructor(
    @Inject(SESSION_STORE) private readonly store: SessionStore,
    @Inject(authConfig.KEY) private readonly auth: ConfigType<typeof authConfig>,
    private readonly tokens: TokenService,
    private readonly users: UsersService,
    private readonly metrics: AuthMetrics,
    keys: KeyService,
  ) {
    this.sealer = new SuccessorSealer(keys.signing.privateKey);
  }

  async refresh(presented: string | undefined): Promise<RefreshResult> {
    const parsed = parseRefreshToken(presented);
    if (!parsed) {
      this.metrics.refreshed('invalid');
      throw presented === undefined ? Problems.invalidRefreshToken('No refresh token was sent') : Problems.invalidRefreshToken();
    }
    const { userId, sessionId } = parsed;
    const successor = formatRefreshToken({ userId, sessionId, secret: newSecret() });
    const result = await this.store.rotate({
      userId,
      sessionId,
      presentedHash: hashSecret(parsed.secret),
      nextHash: hashSecret(parseRefreshToken(successor)!.secret),
      sealedSuccessor: this.sealer.seal(successor, sessionId),
      now: Date.now(),
      idleTtlMs: this.auth.refreshTokenTtl * 1000,
      graceMs: this.auth.refreshReuseGraceSeconds * 1000,
    });
    this.metrics.refreshed(result.status);

    switch (result.status) {
      case 'reused':
        throw Problems.refreshReused();
      case 'invalid':
        throw Problems.invalidRefreshToken();
      case 'rotated':
        return this.issue(result.session, successor);
      case 'grace': {
        const same = this.sealer.open(result.sealedSuccessor, sessionId);
        // Unreadable only if the signing key changed within the window: ask for a login.
        if (!same) throw Problems.invalidRefreshToken();
        return this.issue(result.session, same);
      }
    }
  }

  private async issue(session: SessionInfo, refreshToken: string): Promise<RefreshResult> {
    const user = await this.users.findById(session.userId);
    if (!user || user.disabled) {
      await this.store.revoke(session.userId, session.id);
      throw Problems.invalidRefreshToken();
    }
    const { accessToken, expiresIn } = this.tokens.issueAccessToken(user, session.id);
    return { accessToken, expiresIn, session, refreshToken };
  }
}
