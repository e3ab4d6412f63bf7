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

export interface PemBlock {
  /** What the armour names: `PRIVATE KEY`, `EC PRIVATE KEY`, `PUBLIC KEY`, … */
  label: string;
  pem: string;
}

const PEM_BLOCK = /-----BEGIN ([A-Z0-9 ]+)-----([\s\S]*?)-----END ([A-Z0-9 ]+)-----/g;

/**
 * Splits PEM text into its blocks, in file order. Whitespace, CRLF line ends and text between
 * blocks (comments, `openssl` output) are fine; a BEGIN without its END, a mismatched END or a
 * file with no block at all is an error (`createPrivateKey` would silently read only the first).
 * `EC PARAMETERS` blocks (written by `openssl ecparam -genkey`) carry no key and are skipped.
 */
export function pemBlocks(text: string, name = 'the file'): PemBlock[] {
  const blocks: PemBlock[] = [];
  let rest = '';
  let last = 0;
  for (const match of text.matchAll(PEM_BLOCK)) {
    const [, label, body, end] = match;
    rest += text.slice(last, match.index);
    last = match.index + match[0].length;
    if (body.includes('-----')) throw new Error(`${name} has a BEGIN ${label} line without its END line`);
    if (label !== end) throw new Error(`${name} has a PEM block that begins ${label} but ends ${end}`);
    if (label === 'EC PARAMETERS') continue;
    const base64 = body.replace(/\s+/g, '');
    // PKCS#1 headers such as `Proc-Type` (an encrypted key) are kept: createPrivateKey then names the problem.
    const lines = body.includes(':')
      ? body
          .trim()
          .split(/\s*\r?\n\s*/)
          .join('\n')
      : (base64.match(/.{1,64}/g) ?? []).join('\n');
    blocks.push({ label, pem: `-----BEGIN ${label}-----\n${lines}\n-----END ${label}-----\n` });
  }
  rest += text.slice(last);
  if (/-----(BEGIN|END) /.test(rest)) throw new Error(`${name} has an incomplete PEM block (a BEGIN or END line without its pair)`);
  if (blocks.length === 0) throw new Error(`${name} holds no PEM key`);
  return blocks;
}

const isPrivateLabel = (label: string) => /^(|RSA |EC |ENCRYPTED )PRIVATE KEY$/.test(label);

/** Every private key of a PEM file, in file order; any other block is an error, as a copy-paste slip would be. */
export async function readPrivateKeyFile(path: string): Promise<KeyObject[]> {
  return pemBlocks(await readFile(path, 'utf8'), path).map((block, index) => {
    if (!isPrivateLabel(block.label)) throw new Error(`block ${index + 1} of ${path} is a ${block.label}, not a private key`);
    try {
      return createPrivateKey(block.pem);
    } catch (error) {
      throw new Error(`block ${index + 1} of ${path}: ${(error as Error).message}`, { cause: error });
    }
  });
}

/**
 * Every key of a PEM file of keys being retired, in file order: public keys, or private ones (whose
 * public half is published; the private half is kept only to read legacy refresh tokens, see
 * RefreshTokenCodec).
 */
export async function readPublicKeyFile(path: string): Promise<{ publicKey: KeyObject; privateKey?: KeyObject }[]> {
  return pemBlocks(await readFile(path, 'utf8'), path).map((block, index) => {
    try {
      if (isPrivateLabel(block.label)) {
        const privateKey = createPrivateKey(block.pem);
        return { publicKey: createPublicKey(privateKey), privateKey };
      }
      if (block.label !== 'PUBLIC KEY' && block.label !== 'RSA PUBLIC KEY') throw new Error(`is a ${block.label}, not a key`);
      return { publicKey: createPublicKey(block.pem) };
    } catch (error) {
      throw new Error(`block ${index + 1} of ${path}: ${(error as Error).message}`, { cause: error });
    }
  });
}

/**
 * Reads the development key from `path`, creating it first if missing. The exclusive create
 * (`wx`) means instances starting together on one DATA_DIR end up sharing a single key.
 */
export async function loadOrCreateDevelopmentKey(path: string): Promise<KeyObject> {
  try {
    return (await readPrivateKeyFile(path))[0];
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
    return (await readPrivateKeyFile(path))[0];
  }
}
