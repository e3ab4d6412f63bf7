import { performance } from 'node:perf_hooks';
import { importJWK, type JWK } from 'jose';
import type { VerifierLogger } from './options.js';

/** What Tessera signs with; a JWKS entry naming anything else (HS*, `none`) is never used. */
export const ASYMMETRIC_ALGORITHMS = new Set(['ES256', 'ES384', 'ES512', 'RS256', 'RS384', 'RS512', 'PS256', 'PS384', 'PS512', 'EdDSA']);

export interface PinnedKey {
  alg: string;
  key: CryptoKey | Uint8Array;
}

export interface JwksOptions {
  url: string;
  fetch: typeof fetch;
  /**
   * Unknown `kid`s fetch the JWKS again at most this often; a request with one waits for the next
   * such fetch (shared by every request waiting), so a flood of forged kids costs one fetch per
   * cooldown and never locks a genuine new key out.
   */
  unknownKidCooldownMs: number;
  /** The JWKS is fetched again at least this often, so a key Tessera retired stops verifying. */
  maxAgeMs: number;
  timeoutMs: number;
  logger: VerifierLogger;
}

/**
 * Tessera's public keys by `kid`, each pinned to the algorithm its JWK names: a token is only ever
 * verified with the algorithm of the key it names, never one its header asks for (so an HS256 token
 * "signed" with the public key's bytes is refused).
 */
export class JwksCache {
  private keys = new Map<string, PinnedKey>();
  /** performance.now() of the last successful fetch (monotonic), undefined before the first. */
  private fetchedAt?: number;
  /** performance.now() when the last unknown-kid fetch started. */
  private lastUnknownKidFetch = -Infinity;
  /** The next unknown-kid fetch, not started yet: every request arriving before it starts shares it. */
  private nextUnknownKidFetch?: Promise<unknown>;
  private inFlight?: Promise<boolean>;
  private failing = false;

  constructor(private readonly options: JwksOptions) {}

  get loaded(): boolean {
    return this.fetchedAt !== undefined;
  }

  /**
   * The key for `kid`. An unknown one is looked up again after a JWKS fetch that started after this
   * call (rate limited to one per cooldown, so it may wait up to the cooldown): a forged kid just
   * before Tessera starts signing with a new key cannot use up the refetch the new key needs.
   */
  async keyFor(kid: string): Promise<PinnedKey | undefined> {
    // Past its age the set is fetched again in the background; the keys known meanwhile still answer.
    if (this.fetchedAt !== undefined && performance.now() - this.fetchedAt > this.options.maxAgeMs) void this.refresh();
    const known = this.keys.get(kid);
    if (known) return known;
    await this.unknownKidFetch();
    return this.keys.get(kid);
  }

  private unknownKidFetch(): Promise<unknown> {
    this.nextUnknownKidFetch ??= new Promise<void>((resolve) => {
      const wait = Math.max(0, this.lastUnknownKidFetch + this.options.unknownKidCooldownMs - performance.now());
      setTimeout(resolve, wait).unref();
    }).then(async () => {
      this.nextUnknownKidFetch = undefined;
      this.lastUnknownKidFetch = performance.now();
      // A fetch already running may have read the JWKS before our callers arrived: a new one after it.
      await this.inFlight;
      return this.refresh();
    });
    return this.nextUnknownKidFetch;
  }

  /** Fetches the JWKS (one fetch at a time); keeps the keys it had when the fetch fails. Resolves true on success. */
  refresh(): Promise<boolean> {
    this.inFlight ??= this.load().finally(() => (this.inFlight = undefined));
    return this.inFlight;
  }

  private async load(): Promise<boolean> {
    try {
      const response = await this.options.fetch(this.options.url, {
        headers: { Accept: 'application/json' },
        signal: AbortSignal.timeout(this.options.timeoutMs),
      });
      if (!response.ok) throw new Error(`HTTP ${response.status}`);
      const body = (await response.json()) as { keys?: unknown };
      if (!Array.isArray(body.keys)) throw new Error('no "keys" array');
      const keys = new Map<string, PinnedKey>();
      for (const jwk of body.keys as JWK[]) {
        // A key without a kid, or without an algorithm we accept, is skipped, never guessed.
        if (typeof jwk.kid !== 'string' || typeof jwk.alg !== 'string' || !ASYMMETRIC_ALGORITHMS.has(jwk.alg)) continue;
        if (jwk.use !== undefined && jwk.use !== 'sig') continue;
        try {
          keys.set(jwk.kid, { alg: jwk.alg, key: await importJWK(jwk, jwk.alg) });
        } catch {
          this.options.logger.warn(`Tessera verifier: JWKS key ${jwk.kid} could not be imported; skipped`);
        }
      }
      this.keys = keys;
      this.fetchedAt = performance.now();
      if (this.failing) this.options.logger.log('Tessera verifier: the JWKS is readable again');
      this.failing = false;
      return true;
    } catch (error) {
      // Once per outage, not once per attempt.
      if (!this.failing)
        this.options.logger.warn(
          `Tessera verifier: fetching the JWKS failed (${(error as Error).message}); keeping the keys already known`,
        );
      this.failing = true;
      return false;
    }
  }
}
