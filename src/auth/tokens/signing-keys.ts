import { createPrivateKey, createPublicKey, generateKeyPairSync, KeyObject } from 'node:crypto';
import { chmod, mkdir, readFile, writeFile } from 'node:fs/promises';
import { dirname } from 'node:path';
import { calculateJwkThumbprint, type JWK } from 'jose';

/** Algorithms Tessera signs with; `jsonwebtoken` (under @nestjs/jwt) has no EdDSA, so Ed25519 keys are refused. */
export type SigningAlgorithm = 'ES256' | 'ES384' | 'ES512' | 'RS256' | 'PS256';

export interface VerificationKey {
  kid: string;
  alg: SigningAlgorithm;
  key: KeyObject;
  jwk: JWK;
}

export interface SigningKey extends VerificationKey {
  privateKey: KeyObject;
}

const EC_ALGORITHMS: Record<string, SigningAlgorithm> = { 'P-256': 'ES256', 'P-384': 'ES384', 'P-521': 'ES512' };

/** The key's type sets the algorithm: EC P-256 → ES256, RSA → RS256, RSA-PSS → PS256. */
export function algorithmFor(key: KeyObject): SigningAlgorithm {
  switch (key.asymmetricKeyType) {
    case 'ec': {
      const curve = key.asymmetricKeyDetails?.namedCurve;
      const alg = { prime256v1: 'ES256', secp384r1: 'ES384', secp521r1: 'ES512', ...EC_ALGORITHMS }[curve ?? ''];
      if (!alg) throw new Error(`unsupported EC curve ${curve}`);
      return alg as SigningAlgorithm;
    }
    case 'rsa':
      if ((key.asymmetricKeyDetails?.modulusLength ?? 0) < 2048) throw new Error('RSA keys must be at least 2048 bits');
      return 'RS256';
    case 'rsa-pss':
      if ((key.asymmetricKeyDetails?.modulusLength ?? 0) < 2048) throw new Error('RSA keys must be at least 2048 bits');
      return 'PS256';
    default:
      throw new Error(`unsupported key type ${key.asymmetricKeyType} (use EC P-256, RSA or RSA-PSS)`);
  }
}

/** Parses a public key once into a KeyObject with its JWK (kid = RFC 7638 thumbprint). */
export async function verificationKey(publicKey: KeyObject): Promise<VerificationKey> {
  const alg = algorithmFor(publicKey);
  const exported = publicKey.export({ format: 'jwk' }) as JWK;
  const kid = await calculateJwkThumbprint(exported, 'sha256');
  return { kid, alg, key: publicKey, jwk: { ...exported, kid, alg, use: 'sig' } };
}

export async function signingKey(privateKey: KeyObject): Promise<SigningKey> {
  return { ...(await verificationKey(createPublicKey(privateKey))), privateKey };
}

export async function readPrivateKeyFile(path: string): Promise<KeyObject> {
  return createPrivateKey(await readFile(path));
}

export async function readPublicKeyFile(path: string): Promise<KeyObject> {
  // Accepts a public key or a private one (whose public half is then used).
  return createPublicKey(await readFile(path));
}

/**
 * Reads the development key from `path`, creating it first if missing. The exclusive create
 * (`wx`) means instances starting together on one DATA_DIR end up sharing a single key.
 */
export async function loadOrCreateDevelopmentKey(path: string): Promise<KeyObject> {
  try {
    return await readPrivateKeyFile(path);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
  }
  await mkdir(dirname(path), { recursive: true, mode: 0o700 });
  const { privateKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  const pem = privateKey.export({ format: 'pem', type: 'pkcs8' }) as string;
  try {
    await writeFile(path, pem, { flag: 'wx', mode: 0o600 });
    await chmod(path, 0o600);
    return privateKey;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
    return readPrivateKeyFile(path);
  }
}
