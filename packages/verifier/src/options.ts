import type { InjectionToken, ModuleMetadata, OptionalFactoryDependency } from '@nestjs/common';

export interface VerifierLogger {
  log(message: string): void;
  warn(message: string): void;
  error(message: string): void;
}

export interface TesseraVerifierOptions {
  /** Tessera's base URL, e.g. `https://auth.example.com` (JWKS and revocation feed are read from it). */
  tesseraUrl: string;
  /** A service credential from Tessera's SERVICE_CLIENTS: the client id… */
  clientId: string;
  /** …and its secret (never logged). */
  clientSecret: string;
  /** Expected `iss` (Tessera's JWT_ISSUER; default `tessera`). */
  issuer?: string;
  /** Expected `aud` (Tessera's JWT_AUDIENCE; default `tessera-api`). */
  audience?: string | string[];
  /**
   * How long protected routes keep being served after the feed is lost, before they answer 503
   * until the feed has reconnected and caught up (default 5000 ms).
   */
  maxStalenessMs?: number;
  /**
   * The longest access-token lifetime accepted (Tessera's ACCESS_TOKEN_TTL; default 15 minutes).
   * A token living longer is refused; a user's `notBefore` is kept this long (plus the tolerance).
   */
  maxTokenLifetimeSeconds?: number;
  /** Leeway on `exp` and entries of the revocation set (default 5 s, as Tessera's). */
  clockToleranceSeconds?: number;
  /** Register the guard globally (APP_GUARD). Set false to compose guards yourself (TesseraGuard, or the passport strategy). Default true. */
  globalGuard?: boolean;
  /** Default max age for @RecentAuth() without one (Tessera's REAUTH_MAX_AGE; default 300 s). */
  reauthMaxAgeSeconds?: number;
  /**
   * Unknown `kid`s refetch the JWKS at most this often (default 1000 ms); a request with an unknown
   * kid waits for the next such fetch, so this is also about the longest it waits.
   */
  jwksRefetchCooldownMs?: number;
  /** The JWKS is refetched at least this often (default 300 000 ms). */
  jwksMaxAgeMs?: number;
  /**
   * No byte from the feed for this long (heartbeats come at least every 2 s): reconnect (default
   * 3000 ms, or maxStalenessMs if smaller). A value above maxStalenessMs is clamped to it (with a warning).
   */
  feedWatchdogMs?: number;
  /** Reconnect backoff bounds (default 250 ms … 5000 ms, with jitter). */
  reconnectMinDelayMs?: number;
  reconnectMaxDelayMs?: number;
  /** Verified tokens kept in memory (default 10 000). */
  tokenCacheSize?: number;
  /** For tests and special transports (default: the global fetch). */
  fetch?: typeof fetch;
  /** Default: Nest's Logger with context `TesseraVerifier`. */
  logger?: VerifierLogger;
}

export type ResolvedOptions = Required<Omit<TesseraVerifierOptions, 'audience' | 'logger' | 'fetch'>> & {
  audience: string | string[];
  fetch: typeof fetch;
  logger: VerifierLogger;
};

export interface TesseraVerifierAsyncOptions extends Pick<ModuleMetadata, 'imports'> {
  useFactory: (...args: never[]) => TesseraVerifierOptions | Promise<TesseraVerifierOptions>;
  inject?: (InjectionToken | OptionalFactoryDependency)[];
  /** Known when the module is built (it decides whether an APP_GUARD is registered). Default true. */
  globalGuard?: boolean;
}

export const TESSERA_VERIFIER_OPTIONS = Symbol('TESSERA_VERIFIER_OPTIONS');

export function resolveOptions(options: TesseraVerifierOptions, logger: VerifierLogger): ResolvedOptions {
  if (!options.tesseraUrl) throw new Error('TesseraVerifierModule: tesseraUrl is required');
  if (!options.clientId || !options.clientSecret)
    throw new Error('TesseraVerifierModule: clientId and clientSecret are required (a SERVICE_CLIENTS credential)');
  const resolved: ResolvedOptions = {
    tesseraUrl: options.tesseraUrl.replace(/\/+$/, ''),
    clientId: options.clientId,
    clientSecret: options.clientSecret,
    issuer: options.issuer ?? 'tessera',
    audience: options.audience ?? 'tessera-api',
    maxStalenessMs: options.maxStalenessMs ?? 5000,
    maxTokenLifetimeSeconds: options.maxTokenLifetimeSeconds ?? 15 * 60,
    clockToleranceSeconds: options.clockToleranceSeconds ?? 5,
    globalGuard: options.globalGuard ?? true,
    reauthMaxAgeSeconds: options.reauthMaxAgeSeconds ?? 300,
    jwksRefetchCooldownMs: options.jwksRefetchCooldownMs ?? 1000,
    jwksMaxAgeMs: options.jwksMaxAgeMs ?? 300_000,
    feedWatchdogMs: options.feedWatchdogMs ?? Math.min(3000, options.maxStalenessMs ?? 5000),
    reconnectMinDelayMs: options.reconnectMinDelayMs ?? 250,
    reconnectMaxDelayMs: options.reconnectMaxDelayMs ?? 5000,
    tokenCacheSize: options.tokenCacheSize ?? 10_000,
    fetch: options.fetch ?? globalThis.fetch.bind(globalThis),
    logger: options.logger ?? logger,
  };
  for (const key of [
    'maxStalenessMs',
    'maxTokenLifetimeSeconds',
    'jwksRefetchCooldownMs',
    'feedWatchdogMs',
    'reconnectMinDelayMs',
    'reconnectMaxDelayMs',
  ] as const) {
    if (!Number.isFinite(resolved[key]) || resolved[key] <= 0) throw new Error(`TesseraVerifierModule: ${key} must be a positive number`);
  }
  // A watchdog longer than the staleness bound would keep a silent connection open after requests
  // already answer 503, delaying the reconnect that ends it: clamped, with a warning.
  if (resolved.feedWatchdogMs > resolved.maxStalenessMs) {
    resolved.logger.warn(
      `TesseraVerifier: feedWatchdogMs (${resolved.feedWatchdogMs}) exceeds maxStalenessMs (${resolved.maxStalenessMs}); using ${resolved.maxStalenessMs}`,
    );
    resolved.feedWatchdogMs = resolved.maxStalenessMs;
  }
  return resolved;
}
