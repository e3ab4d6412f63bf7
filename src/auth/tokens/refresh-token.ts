import { createHash, createHmac, hkdfSync, type KeyObject, randomBytes, timingSafeEqual } from 'node:crypto';
import type { PurposeKeys, ServerSecrets } from '../../secrets/server-secrets.js';
import { isUuid } from '../../common/ids.js';

/**
 * Refresh tokens are opaque: `<userId>.<sessionId>.<generation>.<secret>.<keyId>.<tag>`.
 * - userId and sessionId locate the session without a scan (and put it in the user's Redis slot);
 * - generation counts the rotations of the session's chain (0 at login);
 * - secret is 256 random bits; only its (truncated) SHA-256 is stored, for the current token;
 * - tag is an HMAC of everything before it under a key derived from SERVER_SECRETS (never stored;
 *   keyId names which secret of the ring, so rotating the secrets logs nobody out, and the JWT
 *   signing key can change freely). It proves the server minted this exact token, so a *genuine* token of an older
 *   generation is recognised as reuse from the generation number alone: the chain's whole history
 *   is recognisable with O(1) storage, and nobody who merely knows a session id can forge an "old"
 *   token to get the session ended.
 */
export interface RefreshToken {
  userId: string;
  sessionId: string;
  generation: number;
  secret: string;
}

const SESSION_ID = /^[A-Za-z0-9_-]{16}$/;
const GENERATION = /^(0|[1-9]\d{0,8})$/;
const SECRET = /^[A-Za-z0-9_-]{43}$/;
const TAG = /^[A-Za-z0-9_-]{22}$/;
const KEY_ID = /^[A-Za-z0-9_-]{6}$/;

/** 96 random bits: unguessable, and not a secret (access tokens carry it); short, as it is in every key. */
export const newSessionId = (): string => randomBytes(12).toString('base64url');
export const newSecret = (): string => randomBytes(32).toString('base64url');
export const isSessionId = (value: string): boolean => SESSION_ID.test(value);

/**
 * SHA-256 truncated to 128 bits. Enough here: the secret has 256 bits of entropy, so there is
 * nothing to brute-force, and a 128-bit preimage is out of reach; the shorter hash keeps the
 * stored session small (see the Redis memory budget in the README).
 */
export function hashSecret(secret: string): string {
  return createHash('sha256').update(secret).digest().subarray(0, 16).toString('base64url');
}

/**
 * Before SERVER_SECRETS existed, tags and sealed successors used keys derived from the signing key,
 * and tokens had no key id (`<userId>.<sessionId>.<generation>.<secret>.<tag>`). Such tokens are
 * still read, so an upgrade logs nobody out: their next rotation hands out a token of the current
 * format. They are gone within SESSION_MAX_LIFETIME of the upgrade.
 *
 * The key they were tagged under is the signing key of the upgrade, which a later rotation moves
 * down JWT_PRIVATE_KEY_FILE: so every configured private key is tried (a handful of HMACs, and only
 * for this old format), not just the one signing today. Deriving it from the current signing key
 * would log out, at the first rotation, everyone still holding a legacy token.
 */
function legacyKey(signingKey: KeyObject, purpose: string): Buffer {
  const material = signingKey.export({ format: 'der', type: 'pkcs8' });
  return Buffer.from(hkdfSync('sha256', material, 'tessera', purpose, 32));
}

const hmac = (key: Buffer, body: string) => createHmac('sha256', key).update(body).digest().subarray(0, 16).toString('base64url');

/** Mints and reads refresh tokens; `read` accepts only tokens this server minted. */
export class RefreshTokenCodec {
  private readonly tags: PurposeKeys;
  private readonly legacyTagKeys: Buffer[];

  /** `legacySigningKeys`: every private signing key configured, to read pre-SERVER_SECRETS tokens (see legacyKey). */
  constructor(secrets: ServerSecrets, legacySigningKeys: KeyObject[] = []) {
    this.tags = secrets.for('refresh-token-tag-v2');
    this.legacyTagKeys = legacySigningKeys.map((key) => legacyKey(key, 'refresh-token-tag-v1'));
  }

  mint(userId: string, sessionId: string, generation: number): RefreshToken & { token: string } {
    const secret = newSecret();
    const keyId = this.tags.current.id;
    const body = `${userId}.${sessionId}.${generation}.${secret}.${keyId}`;
    return { userId, sessionId, generation, secret, token: `${body}.${this.tags.mac(body)}` };
  }

  read(value: unknown): RefreshToken | undefined {
    if (typeof value !== 'string' || value.length > 200) return undefined;
    const parts = value.split('.');
    if (parts.length !== 6 && parts.length !== 5) return undefined;
    const [userId, sessionId, generation, secret] = parts;
    const tag = parts[parts.length - 1];
    if (!isUuid(userId) || !SESSION_ID.test(sessionId) || !GENERATION.test(generation) || !SECRET.test(secret) || !TAG.test(tag)) {
      return undefined;
    }
    const body = parts.slice(0, -1).join('.');
    if (parts.length === 6) {
      if (!KEY_ID.test(parts[4]) || !this.tags.verify(parts[4], body, tag)) return undefined;
    } else {
      if (!this.legacyTagKeys.some((key) => timingSafeEqual(Buffer.from(hmac(key, body)), Buffer.from(tag)))) return undefined;
    }
    return { userId, sessionId, generation: Number(generation), secret };
  }
}

/**
 * Seals the successor token for the grace window with AES-256-GCM under a key derived from
 * SERVER_SECRETS (`<keyId>.<iv|tag|ciphertext>`), bound to the session id, so a copy of Redis alone
 * cannot read it.
 */
export class SuccessorSealer {
  private readonly keys: PurposeKeys;

  constructor(secrets: ServerSecrets) {
    this.keys = secrets.for('refresh-successor-v2');
  }

  seal(token: string, sessionId: string): string {
    return this.keys.seal(token, sessionId);
  }

  /** Undefined when the box was not sealed by a key of the ring for this session. */
  open(sealed: string, sessionId: string): string | undefined {
    return this.keys.open(sealed, sessionId);
  }
}
