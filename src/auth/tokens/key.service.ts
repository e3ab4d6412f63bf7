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
 */
export class KeyService {
  private readonly byKid = new Map<string, VerificationKey>();
  readonly algorithms: string[];

  private constructor(
    readonly signing: SigningKey,
    previous: VerificationKey[],
  ) {
    for (const key of [signing, ...previous]) this.byKid.set(key.kid, key);
    this.algorithms = [...new Set([...this.byKid.values()].map((k) => k.alg))];
  }

  /** `announce`: log a development key at once (the preflight does not: KeysModule logs it, through Nest's logger). */
  static async load(auth: AuthConfig, storage: StorageConfig, app: AppConfig, announce = true): Promise<KeyService> {
    const signing = await signingKey(await loadPrivateKey(auth, storage, app, announce));
    const previous: VerificationKey[] = [];
    for (const file of auth.previousPublicKeyFiles) {
      previous.push(await verificationKey(await readKey('JWT_PREVIOUS_PUBLIC_KEY_FILES', () => readPublicKeyFile(file))));
    }
    return new KeyService(signing, previous);
  }

  /** The key for a token's `kid`, or undefined: unknown kids are refused, never guessed. */
  forKid(kid: unknown): VerificationKey | undefined {
    return typeof kid === 'string' ? this.byKid.get(kid) : undefined;
  }

  get jwks(): { keys: JWK[] } {
    return { keys: [...this.byKid.values()].map((k) => k.jwk) };
  }
}

async function loadPrivateKey(auth: AuthConfig, storage: StorageConfig, app: AppConfig, announce: boolean): Promise<KeyObject> {
  if (auth.privateKeyFile) {
    const file = auth.privateKeyFile;
    return readKey('JWT_PRIVATE_KEY_FILE', () => readPrivateKeyFile(file));
  }
  if (app.production) {
    throw new ConfigError('JWT_PRIVATE_KEY_FILE', 'must be set in production (generated development keys are refused)');
  }
  const key = await loadOrCreateDevelopmentKey(developmentKeyPath(storage));
  if (announce) announceDevelopmentKey(storage);
  return key;
}

const developmentKeyPath = (storage: StorageConfig) => join(storage.dataDir, 'keys', 'jwt-private.pem');

/** The warning for a generated development key (KeysModule logs it once Nest's logger runs). */
export function announceDevelopmentKey(storage: StorageConfig): void {
  new Logger('Keys').warn(
    `Using the development signing key ${developmentKeyPath(storage)}. Set JWT_PRIVATE_KEY_FILE in production; ` +
      'several instances need a configured key and SERVER_SECRETS (or one shared DATA_DIR).',
  );
}

async function readKey(variable: string, read: () => Promise<KeyObject>): Promise<KeyObject> {
  try {
    const key = await read();
    algorithmFor(key); // an unsupported key stops start-up here, with a clear line
    return key;
  } catch (error) {
    throw new ConfigError(variable, `could not be used: ${(error as Error).message}`);
  }
}
