import { randomBytes } from 'node:crypto';
import type { PurposeKeys, ServerSecrets } from '../../secrets/server-secrets.js';

/**
 * Device tokens (OWASP's "device cookies"): proof that this client logged in to this account
 * before. `<keyId>.<issuedAt>.<nonce>.<mac>`, the MAC over the user id, issue time and nonce under
 * SERVER_SECRETS. Nothing is stored: the token proves itself, and names no account in the clear.
 */
export interface DeviceToken {
  token: string;
  /** Identifies this device token in its own failure counter (public: not the MAC). */
  nonce: string;
}

export const DEVICE_TOKEN_LIFETIME_SECONDS = 365 * 86400;
const SHAPE = /^([A-Za-z0-9_-]{6})\.(\d{1,12})\.([A-Za-z0-9_-]{22})\.([A-Za-z0-9_-]{22})$/;

export class DeviceTokens {
  private readonly keys: PurposeKeys;

  constructor(
    secrets: ServerSecrets,
    private readonly clock: () => number = Date.now,
  ) {
    this.keys = secrets.for('device-token-v1');
  }

  issue(userId: string): DeviceToken {
    const issuedAt = Math.floor(this.clock() / 1000);
    const nonce = randomBytes(16).toString('base64url');
    const keyId = this.keys.current.id;
    return { nonce, token: `${keyId}.${issuedAt}.${nonce}.${this.keys.mac(`${userId}.${issuedAt}.${nonce}`)}` };
  }

  /** The token's nonce when it was issued to `userId` by a key of the ring and has not expired. */
  verify(value: unknown, userId: string): DeviceToken | undefined {
    if (typeof value !== 'string' || value.length > 100) return undefined;
    const match = SHAPE.exec(value);
    if (!match) return undefined;
    const [, keyId, issuedAt, nonce, mac] = match;
    const age = this.clock() / 1000 - Number(issuedAt);
    if (age < -300 || age > DEVICE_TOKEN_LIFETIME_SECONDS) return undefined;
    return this.keys.verify(keyId, `${userId}.${issuedAt}.${nonce}`, mac) ? { token: value, nonce } : undefined;
  }
}
