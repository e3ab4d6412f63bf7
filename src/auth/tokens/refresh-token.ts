import { createCipheriv, createDecipheriv, createHash, hkdfSync, KeyObject, randomBytes } from 'node:crypto';

/**
 * Refresh tokens are opaque: `<userId>.<sessionId>.<secret>` with a 256-bit random secret.
 * The ids locate the session without a scan (and put it in the user's Redis hash slot);
 * only SHA-256 of the secret is stored.
 */
export interface ParsedRefreshToken {
  userId: string;
  sessionId: string;
  secret: string;
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;
const SESSION_ID = /^[A-Za-z0-9_-]{16}$/;
const SECRET = /^[A-Za-z0-9_-]{43}$/;

/** 96 random bits: unguessable, and not a secret (access tokens carry it); short, as it is in every key. */
export const newSessionId = (): string => randomBytes(12).toString('base64url');
export const newSecret = (): string => randomBytes(32).toString('base64url');

export function formatRefreshToken(token: ParsedRefreshToken): string {
  return `${token.userId}.${token.sessionId}.${token.secret}`;
}

export function parseRefreshToken(value: unknown): ParsedRefreshToken | undefined {
  if (typeof value !== 'string' || value.length > 200) return undefined;
  const [userId, sessionId, secret, ...rest] = value.split('.');
  if (rest.length > 0 || !UUID.test(userId ?? '') || !SESSION_ID.test(sessionId ?? '') || !SECRET.test(secret ?? '')) {
    return undefined;
  }
  return { userId, sessionId, secret };
}

/**
 * SHA-256 truncated to 128 bits. Enough here: the secret has 256 bits of entropy, so there is
 * nothing to brute-force, and a 128-bit preimage is out of reach; the shorter hash keeps every
 * stored chain entry small (see the Redis memory budget in the README).
 */
export function hashSecret(secret: string): string {
  return createHash('sha256').update(secret).digest().subarray(0, 16).toString('base64url');
}

/**
 * Seals the successor token for the grace window with AES-256-GCM under a key derived from the
 * signing key, so a copy of Redis alone cannot read it.
 */
export class SuccessorSealer {
  private readonly key: Buffer;

  constructor(signingKey: KeyObject) {
    const material = signingKey.export({ format: 'der', type: 'pkcs8' });
    this.key = Buffer.from(hkdfSync('sha256', material, 'tessera', 'refresh-successor-v1', 32));
  }

  seal(token: string, sessionId: string): string {
    const iv = randomBytes(12);
    const cipher = createCipheriv('aes-256-gcm', this.key, iv);
    cipher.setAAD(Buffer.from(sessionId));
    const body = Buffer.concat([cipher.update(token, 'utf8'), cipher.final()]);
    return Buffer.concat([iv, cipher.getAuthTag(), body]).toString('base64url');
  }

  /** Undefined when the box was not sealed by this key for this session. */
  open(sealed: string, sessionId: string): string | undefined {
    try {
      const raw = Buffer.from(sealed, 'base64url');
      const decipher = createDecipheriv('aes-256-gcm', this.key, raw.subarray(0, 12));
      decipher.setAAD(Buffer.from(sessionId));
      decipher.setAuthTag(raw.subarray(12, 28));
      return Buffer.concat([decipher.update(raw.subarray(28)), decipher.final()]).toString('utf8');
    } catch {
      return undefined;
    }
  }
}
