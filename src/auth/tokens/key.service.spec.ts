import { afterAll, beforeAll, describe, expect, test } from '@jest/globals';
import { createPublicKey, generateKeyPairSync, type KeyObject } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { AppConfig, AuthConfig, StorageConfig } from '../../config/configuration.js';
import { KeyService } from './key.service.js';
import { pemBlocks, signingKey } from './signing-keys.js';

const ecKey = () => generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey;
const privatePem = (key: KeyObject) => key.export({ format: 'pem', type: 'pkcs8' }) as string;
const publicPem = (key: KeyObject) => createPublicKey(key).export({ format: 'pem', type: 'spki' }) as string;
const kidOf = async (key: KeyObject) => (await signingKey(key)).kid;

describe('signing keys from PEM files', () => {
  let dir: string;
  let count = 0;
  const file = (text: string) => {
    const path = join(dir, `key-${++count}.pem`);
    writeFileSync(path, text);
    return path;
  };
  const load = (privateKeyFile?: string, previous: string[] = []) =>
    KeyService.load(
      { privateKeyFile, previousPublicKeyFiles: previous } as AuthConfig,
      { dataDir: dir } as StorageConfig,
      { production: true } as AppConfig,
      false,
    );

  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'tessera-keys-'));
  });
  afterAll(() => {
    rmSync(dir, { recursive: true, force: true });
  });

  test('several keys, newest first: the first signs, all verify and are published, all read legacy refresh tokens', async () => {
    const [newer, older] = [ecKey(), generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey];
    const keys = await load(file(`${privatePem(newer)}${privatePem(older)}`));
    expect(keys.signing.kid).toBe(await kidOf(newer));
    expect(keys.jwks.keys.map((k) => k.kid)).toEqual([await kidOf(newer), await kidOf(older)]);
    expect(keys.forKid(await kidOf(older))?.alg).toBe('RS256');
    expect(keys.algorithms.sort()).toEqual(['ES256', 'RS256']);
    expect(keys.legacyTagKeys).toHaveLength(2);
  });

  test('CRLF, indentation, blank lines and comments between blocks are fine', async () => {
    const [a, b] = [ecKey(), ecKey()];
    const crlf = (pem: string) => pem.replace(/\n/g, '\r\n');
    const indented = privatePem(b)
      .split('\n')
      .map((line) => `   ${line}  `)
      .join('\n');
    const text = `# current key, added 2026-11-25\r\n${crlf(privatePem(a))}\r\n\r\n# previous key\n${indented}\n\n`;
    const keys = await load(file(text));
    expect(keys.jwks.keys.map((k) => k.kid)).toEqual([await kidOf(a), await kidOf(b)]);
  });

  test('the EC PARAMETERS block written by `openssl ecparam -genkey` is skipped', () => {
    const ecParameters = '-----BEGIN EC PARAMETERS-----\nBggqhkjOPQMBBw==\n-----END EC PARAMETERS-----\n';
    expect(pemBlocks(`${ecParameters}${privatePem(ecKey())}`).map((b) => b.label)).toEqual(['PRIVATE KEY']);
  });

  test('JWT_PREVIOUS_PUBLIC_KEY_FILES: public keys, several per file, published after the private ones', async () => {
    const [current, retiredA, retiredB, retiredC] = [ecKey(), ecKey(), ecKey(), ecKey()];
    const keys = await load(file(privatePem(current)), [file(publicPem(retiredA) + publicPem(retiredB)), file(privatePem(retiredC))]);
    expect(keys.jwks.keys.map((k) => k.kid)).toEqual(await Promise.all([current, retiredA, retiredB, retiredC].map(kidOf)));
    expect(keys.signing.kid).toBe(await kidOf(current));
    expect(keys.legacyTagKeys).toHaveLength(2); // current, and the private half of retiredC
  });

  const key = ecKey();
  test.each([
    [
      'a public key in JWT_PRIVATE_KEY_FILE',
      () => [file(privatePem(ecKey()) + publicPem(ecKey()))],
      /JWT_PRIVATE_KEY_FILE .*block 2 .* is a PUBLIC KEY, not a private key/,
    ],
    ['the same key twice', () => [file(privatePem(key) + privatePem(key))], /JWT_PRIVATE_KEY_FILE lists the key .* twice/],
    [
      'a key both signing and retired',
      () => [file(privatePem(key)), [file(publicPem(key))]],
      /JWT_PREVIOUS_PUBLIC_KEY_FILES lists the key .* twice/,
    ],
    ['a missing file', () => [join(dir, 'missing.pem')], /JWT_PRIVATE_KEY_FILE could not be used: ENOENT/],
    ['a file with no PEM block', () => [file('not a key\n')], /JWT_PRIVATE_KEY_FILE could not be used: .* holds no PEM key/],
    [
      'a block cut short',
      () => [file(privatePem(ecKey()).split('-----END')[0])],
      /JWT_PRIVATE_KEY_FILE could not be used: .* incomplete PEM block/,
    ],
    [
      'two BEGINs and one END',
      () => [file(privatePem(ecKey()).split('-----END')[0] + privatePem(ecKey()))],
      /JWT_PRIVATE_KEY_FILE could not be used: .* BEGIN PRIVATE KEY line without its END/,
    ],
    [
      'a garbled block',
      () => [file('-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n')],
      /JWT_PRIVATE_KEY_FILE could not be used: block 1 of /,
    ],
    [
      'an unsupported key type',
      () => [file(privatePem(generateKeyPairSync('ed25519').privateKey))],
      /JWT_PRIVATE_KEY_FILE could not be used: unsupported key type ed25519/,
    ],
    [
      'a certificate among retired keys',
      () => [file(privatePem(ecKey())), [file('-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n')]],
      /JWT_PREVIOUS_PUBLIC_KEY_FILES .* is a CERTIFICATE, not a key/,
    ],
  ] as [string, () => [string, string[]?], RegExp][])('%s stops start-up with one ConfigError line', async (_, args, message) => {
    const [privateKeyFile, previous] = args();
    const error = (await load(privateKeyFile, previous).catch((e: unknown) => e)) as Error;
    expect(error.name).toBe('ConfigError');
    expect(error.message).toMatch(message);
    expect(error.message).not.toContain('\n');
    expect(error.message).not.toMatch(/[A-Za-z0-9+/]{44}/); // no key material in the line (a kid has 43 characters)
  });
});
