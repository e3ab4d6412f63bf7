import type { AccessTokenClaims } from './claims.js';

/**
 * Access tokens already verified, by their exact text, until they expire (as Tessera's own
 * VerifiedTokenCache): a client sends the same token for minutes, and checking its signature each
 * time is most of the cost of a request. Only the signature check is skipped: revocations are
 * checked on every request. Bounded (oldest entries go first).
 */
export class VerifiedTokenCache {
  private readonly entries = new Map<string, { claims: AccessTokenClaims; validUntilMs: number }>();

  constructor(
    private readonly maxEntries = 10_000,
    private readonly clockToleranceSeconds = 0,
  ) {}

  get(token: string, now = Date.now()): AccessTokenClaims | undefined {
    const entry = this.entries.get(token);
    if (!entry) return undefined;
    if (now < entry.validUntilMs) return entry.claims;
    this.entries.delete(token);
    return undefined;
  }

  set(token: string, claims: AccessTokenClaims): void {
    if (this.entries.size >= this.maxEntries) this.entries.delete(this.entries.keys().next().value!);
    this.entries.set(token, { claims, validUntilMs: (claims.exp + this.clockToleranceSeconds) * 1000 });
  }

  clear(): void {
    this.entries.clear();
  }
}
