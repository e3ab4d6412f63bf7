import { Inject, Injectable, Logger, type OnApplicationShutdown, type OnModuleInit } from '@nestjs/common';
import { decodeProtectedHeader, errors, jwtVerify } from 'jose';
import { type AccessTokenClaims, type AuthenticatedUser, hasValidShape, userOf, withLegacyAuthentication } from './claims.js';
import { JwksCache } from './jwks.js';
import { type ResolvedOptions, TESSERA_VERIFIER_OPTIONS } from './options.js';
import { Problems } from './problems.js';
import { RevocationFeed } from './revocation-feed.js';
import { RevocationSet } from './revocation-set.js';
import { VerifiedTokenCache } from './verified-token-cache.js';

const PRUNE_INTERVAL_MS = 10_000;

/**
 * Verifies Tessera access tokens in this process: signature against the JWKS (algorithm pinned per
 * key), `typ`, `iss`, `aud`, `exp`, Tessera's claims; then the revocation set the feed keeps, on
 * every request. Throws TesseraProblem (401 with Tessera's codes, 503 while revocations cannot be
 * trusted). Shared by the guard and the passport strategy.
 */
@Injectable()
export class TesseraVerifier implements OnModuleInit, OnApplicationShutdown {
  private readonly jwks: JwksCache;
  private readonly revocations: RevocationSet;
  private readonly feed: RevocationFeed;
  private readonly verified: VerifiedTokenCache;
  private pruner?: NodeJS.Timeout;
  private jwksRetry?: NodeJS.Timeout;
  private jwksRefresher?: NodeJS.Timeout;
  private stopped = false;

  constructor(@Inject(TESSERA_VERIFIER_OPTIONS) readonly options: ResolvedOptions) {
    const { logger } = options;
    this.jwks = new JwksCache({
      url: `${options.tesseraUrl}/.well-known/jwks.json`,
      fetch: options.fetch,
      unknownKidCooldownMs: options.jwksRefetchCooldownMs,
      maxAgeMs: options.jwksMaxAgeMs,
      timeoutMs: 5000,
      logger,
    });
    this.revocations = new RevocationSet(options.clockToleranceSeconds, options.maxTokenLifetimeSeconds);
    this.verified = new VerifiedTokenCache(options.tokenCacheSize, options.clockToleranceSeconds);
    this.feed = new RevocationFeed({
      url: `${options.tesseraUrl}/auth/revocations`,
      clientId: options.clientId,
      clientSecret: options.clientSecret,
      fetch: options.fetch,
      maxStalenessMs: options.maxStalenessMs,
      watchdogMs: options.feedWatchdogMs,
      reconnectMinDelayMs: options.reconnectMinDelayMs,
      reconnectMaxDelayMs: options.reconnectMaxDelayMs,
      logger,
      onRevocation: (event) => this.revocations.apply(event),
    });
  }

  /** Starts following the feed and loading the JWKS; requests answer 503 until both are there. */
  onModuleInit(): void {
    this.feed.start();
    void this.loadJwks();
    this.pruner = setInterval(() => this.revocations.prune(), PRUNE_INTERVAL_MS);
    this.pruner.unref();
    this.jwksRefresher = setInterval(() => void this.jwks.refresh(), this.options.jwksMaxAgeMs);
    this.jwksRefresher.unref();
  }

  async onApplicationShutdown(): Promise<void> {
    this.stopped = true;
    clearInterval(this.pruner);
    clearTimeout(this.jwksRetry);
    clearInterval(this.jwksRefresher);
    await this.feed.stop();
  }

  /** Whether protected requests can be answered: keys known and revocations fresh. */
  isReady(): boolean {
    return this.jwks.loaded && this.feed.isFresh();
  }

  /** Resolves when the JWKS is loaded and the feed has caught up once (for health checks and tests). */
  async ready(): Promise<void> {
    await this.feed.caughtUp();
    while (!this.jwks.loaded) await new Promise((resolve) => setTimeout(resolve, 50));
  }

  /**
   * For a readiness probe or a dashboard: `ready` (protected routes are answered), whether the feed
   * is connected and caught up, how long it has been lost, its last event id (opaque).
   */
  status(): { ready: boolean; jwksLoaded: boolean; feedConnected: boolean; feedLostForMs?: number; feedPosition?: string } {
    const feed = this.feed.status();
    return {
      ready: this.isReady(),
      jwksLoaded: this.jwks.loaded,
      feedConnected: feed.connected,
      feedLostForMs: feed.lostForMs,
      feedPosition: this.feed.position,
    };
  }

  /** The feed's last event id (opaque), for diagnostics. */
  get feedPosition(): string | undefined {
    return this.feed.position;
  }

  /**
   * The user a Bearer token stands for, or a TesseraProblem: 503 while revocations cannot be
   * trusted (checked first: nothing is answered on stale knowledge), 401 `invalid_token`,
   * `token_expired`, `session_revoked`.
   */
  async verify(rawToken: string): Promise<AuthenticatedUser> {
    return this.verifyKnown(rawToken) ?? this.checked(await this.verifySignature(rawToken));
  }

  /**
   * verify() without a promise for a token whose signature was already checked (the common case:
   * a client sends the same token for minutes); undefined when it was not, then call verify().
   * Throws the same problems; freshness and revocations are checked every time.
   */
  verifyKnown(rawToken: string): AuthenticatedUser | undefined {
    if (!this.isReady()) throw Problems.unavailable(this.feed.retryAfterSeconds());
    const claims = this.verified.get(rawToken);
    return claims && this.checked(claims);
  }

  private checked(claims: AccessTokenClaims): AuthenticatedUser {
    if (this.revocations.isRevoked(claims)) throw Problems.sessionRevoked();
    return userOf(claims);
  }

  private async verifySignature(rawToken: string): Promise<AccessTokenClaims> {
    let kid: unknown;
    try {
      kid = decodeProtectedHeader(rawToken).kid;
    } catch {
      throw Problems.invalidToken();
    }
    if (typeof kid !== 'string') throw Problems.invalidToken();
    const key = await this.jwks.keyFor(kid);
    if (!key) throw Problems.invalidToken();
    const { issuer, audience, clockToleranceSeconds, maxTokenLifetimeSeconds } = this.options;
    let verified: Awaited<ReturnType<typeof jwtVerify>>;
    try {
      verified = await jwtVerify(rawToken, key.key, {
        // Pinned to the algorithm of the key this `kid` names, whatever the header says.
        algorithms: [key.alg],
        typ: 'at+jwt',
        issuer,
        audience,
        clockTolerance: clockToleranceSeconds,
        requiredClaims: ['exp', 'iat', 'sub'],
      });
    } catch (error) {
      throw error instanceof errors.JWTExpired ? Problems.tokenExpired() : Problems.invalidToken();
    }
    const claims = withLegacyAuthentication(verified.payload);
    if (!hasValidShape(verified.protectedHeader, claims, clockToleranceSeconds)) throw Problems.invalidToken();
    // A token living longer than the revocation set keeps a user's entry could outlive its revocation.
    if (claims.exp - claims.iat > maxTokenLifetimeSeconds + clockToleranceSeconds)
      throw Problems.invalidToken('The access token lives longer than this service accepts');
    this.verified.set(rawToken, claims);
    return claims;
  }

  /** The first load, retried (1 s, doubling to 10 s) until Tessera answers. */
  private async loadJwks(delayMs = 1000): Promise<void> {
    if ((await this.jwks.refresh()) || this.stopped) return;
    this.jwksRetry = setTimeout(() => void this.loadJwks(Math.min(delayMs * 2, 10_000)), delayMs);
  }
}

export const defaultLogger = () => new Logger('TesseraVerifier');
