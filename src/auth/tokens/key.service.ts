import type { KeyObject } from 'node:crypto';
import { join } from 'node:path';
import { Logger } from '@nestjs/common';
import type { JWK } from 'jose';
import { ConfigError } from '../../config/config-error.js';
import type { AppConfig, AuthConfig, StorageConfig } from '../../config/configuration.js';
import {
  algorithmFor,
  loadOrCreateDevelopmentKey,
  readPrivateKeyFile,
  readPublicKeyFile,
  type SigningKey,
  signingKey,
  type VerificationKey,
  verificationKey,
} from './signing-keys.js';

/**
 * The signing key and every key still accepted for verification, parsed once into KeyObjects at
 * start-up (never per request). Built by `load` before any consumer is constructed.
 *
 * `JWT_PRIVATE_KEY_FILE` may hold several private keys, newest first: the first signs, all of them
 * verify and are published. `JWT_PREVIOUS_PUBLIC_KEY_FILES` adds keys whose private half is gone.
 * Only access tokens depend on these keys; refresh tokens and sessions rest on SERVER_SECRETS, so
 * any change here logs nobody out (see the README, "Rotating the signing key").
 */
export class KeyService {
  private readonly byKid = new Map<string, VerificationKey>();
  readonly algorithms: string[];

  private constructor(
    /** Newest first; `signing` is the first. */
    private readonly privateKeys: SigningKey[],
    previous: VerificationKey[],
    /** Private halves found among the previous keys: only for legacy refresh tokens. */
    private readonly retiredPrivateKeys: KeyObject[],
  ) {
    for (const key of [...privateKeys, ...previous]) this.byKid.set(key.kid, key);
    this.algorithms = [...new Set([...this.byKid.values()].map((k) => k.alg))];
  }

  /** The key new access tokens are signed with: the first of JWT_PRIVATE_KEY_FILE. */
  get signing(): SigningKey {
    return this.privateKeys[0];
  }

  /**
   * Every configured private key, signing key first. Refresh tokens minted before SERVER_SECRETS
   * were tagged under the signing key *of that day*, which after a rotation is no longer the first
   * one: RefreshTokenCodec tries each (see legacyKey in refresh-token.ts).
   */
  get legacyTagKeys(): KeyObject[] {
    return [...this.privateKeys.map((k) => k.privateKey), ...this.retiredPrivateKeys];
  }

  /** `announce`: log a development key at once (the preflight does not: KeysModule logs it, through Nest's logger). */
  static async load(auth: AuthConfig, storage: StorageConfig, app: AppConfig, announce = true): Promise<KeyService> {
    const current: SigningKey[] = [];
    for (const key of await loadPrivateKeys(auth, storage, app, announce)) current.push(await signingKey(key));
    refuseDuplicates('JWT_PRIVATE_KEY_FILE', current, new Set());
    const previous: VerificationKey[] = [];
    const retired: KeyObject[] = [];
    for (const file of auth.previousPublicKeyFiles) {
      const keys = await readKeys('JWT_PREVIOUS_PUBLIC_KEY_FILES', () => readPublicKeyFile(file));
      for (const { publicKey, privateKey } of keys) {
        previous.push(await verificationKey(publicKey));
        if (privateKey) retired.push(privateKey);
      }
    }
    refuseDuplicates('JWT_PREVIOUS_PUBLIC_KEY_FILES', previous, new Set(current.map((k) => k.kid)), ' (or also in JWT_PRIVATE_KEY_FILE)');
    return new KeyService(current, previous, retired);
  }

  /** The key for a token's `kid`, or undefined: unknown kids are refused, never guessed. */
  forKid(kid: unknown): VerificationKey | undefined {
    return typeof kid === 'string' ? this.byKid.get(kid) : undefined;
  }

  get jwks(): { keys: JWK[] } {
    return { keys: [...this.byKid.values()].map((k) => k.jwk) };
  }
}

async function loadPrivateKeys(auth: AuthConfig, storage: StorageConfig, app: AppConfig, announce: boolean): Promise<KeyObject[]> {
  if (auth.privateKeyFile) {
    const file = auth.privateKeyFile;
    return readKeys('JWT_PRIVATE_KEY_FILE', () => readPrivateKeyFile(file));
  }
  if (app.production) {
    throw new ConfigError('JWT_PRIVATE_KEY_FILE', 'must be set in production (generated development keys are refused)');
  }
  const key = await loadOrCreateDevelopmentKey(developmentKeyPath(storage));
  if (announce) announceDevelopmentKey(storage);
  return [key];
}

/** The same key twice is a slip (a file listed twice, a key not moved but copied): refused rather than guessed at. */
function refuseDuplicates(variable: string, keys: VerificationKey[], seen: Set<string>, note = ''): void {
  for (const key of keys) {
    if (seen.has(key.kid)) throw new ConfigError(variable, `lists the key ${key.kid} twice${note}`);
    seen.add(key.kid);
  }
}

const developmentKeyPath = (storage: StorageConfig) => join(storage.dataDir, 'keys', 'jwt-private.pem');

/** The warning for a generated development key (KeysModule logs it once Nest's logger runs). */
export function announceDevelopmentKey(storage: StorageConfig): void {
  new Logger('Keys').warn(
    `Using the development signing key ${developmentKeyPath(storage)}. Set JWT_PRIVATE_KEY_FILE in production; ` +
      'several instances need a configured key and SERVER_SECRETS (or one shared DATA_DIR).',
  );
}

async function readKeys<T extends KeyObject | { publicKey: KeyObject }>(variable: string, read: () => Promise<T[]>): Promise<T[]> {
  try {
    const keys = await read();
    // An unsupported key stops start-up here, with a clear line.
    for (const key of keys) algorithmFor('publicKey' in key ? key.publicKey : key);
    return keys;
  } catch (error) {
    throw new ConfigError(variable, `could not be used: ${(error as Error).message}`);
  }
}
