import { createCipheriv, createDecipheriv, createHash, createHmac, hkdfSync, randomBytes, timingSafeEqual } from 'node:crypto';
import { chmod, mkdir, readFile, writeFile } from 'node:fs/promises';
import { dirname } from 'node:path';
import { decodeSecret, MIN_SECRET_BYTES } from '../config/secret.js';

/**
 * Tessera's own secrets (SERVER_SECRETS), apart from the JWT signing keys: every MAC and every
 * encryption Tessera makes for itself (refresh-token tags, sealed successors, device tokens,
 * hashed identifiers, encrypted second-factor secrets) uses a key derived from this ring.
 *
 * A ring, newest first: the newest secret makes everything new; every secret in the ring is still
 * accepted, so prepending a new one keeps everything made under the older ones valid, and dropping
 * an old one ends only what it made. Each secret has a short public id (a hash prefix) that travels
 * with what it made, so verification never has to try every key.
 */
export interface RingKey {
  /** 6 base64url characters: public, names the secret without revealing it. */
  id: string;
  key: Buffer;
}

/** The keys of one purpose: the newest signs or seals, any of them verifies or opens. */
export class PurposeKeys {
  private readonly byId: Map<string, Buffer>;

  constructor(readonly keys: RingKey[]) {
    this.byId = new Map(keys.map((k) => [k.id, k.key]));
  }

  get current(): RingKey {
    return this.keys[0];
  }

  find(id: string): Buffer | undefined {
    return this.byId.get(id);
  }

  /** HMAC-SHA-256 under the newest key, truncated to `bytes`, base64url. */
  mac(data: string, bytes = 16, key = this.current.key): string {
    return createHmac('sha256', key).update(data).digest().subarray(0, bytes).toString('base64url');
  }

  /** Constant-time check of a MAC made by `mac` under the key named `id`. */
  verify(id: string, data: string, tag: string, bytes = 16): boolean {
    const key = this.find(id);
    if (!key) return false;
    const expected = Buffer.from(this.mac(data, bytes, key));
    const given = Buffer.from(tag);
    return expected.length === given.length && timingSafeEqual(expected, given);
  }

  /**
   * AES-256-GCM under the newest key: `<keyId>.<base64url(iv | tag | ciphertext)>`. `context` is
   * authenticated but not stored (e.g. the id of the row the box lives in), so a box moved to
   * another row does not open.
   */
  seal(plaintext: string, context: string): string {
    const { id, key } = this.current;
    const iv = randomBytes(12);
    const cipher = createCipheriv('aes-256-gcm', key, iv);
    cipher.setAAD(Buffer.from(context));
    const body = Buffer.concat([cipher.update(plaintext, 'utf8'), cipher.final()]);
    return `${id}.${Buffer.concat([iv, cipher.getAuthTag(), body]).toString('base64url')}`;
  }

  /** Undefined when the box was not sealed by a key of the ring for this context. */
  open(sealed: string, context: string): string | undefined {
    const dot = sealed.indexOf('.');
    const key = dot > 0 ? this.find(sealed.slice(0, dot)) : undefined;
    if (!key) return undefined;
    try {
      const raw = Buffer.from(sealed.slice(dot + 1), 'base64url');
      const decipher = createDecipheriv('aes-256-gcm', key, raw.subarray(0, 12));
      decipher.setAAD(Buffer.from(context));
      decipher.setAuthTag(raw.subarray(12, 28));
      return Buffer.concat([decipher.update(raw.subarray(28)), decipher.final()]).toString('utf8');
    } catch {
      return undefined;
    }
  }
}

export class ServerSecrets {
  private readonly purposes = new Map<string, PurposeKeys>();

  constructor(private readonly secrets: Buffer[]) {
    if (secrets.length === 0) throw new Error('SERVER_SECRETS needs at least one secret');
  }

  /** The ring's secret ids, newest first (for logs and docs; never the secrets). */
  get ids(): string[] {
    return this.secrets.map(secretId);
  }

  /**
   * Keys for one purpose (HKDF per secret and purpose): a key made for refresh-token tags is never
   * the key of device tokens, so one purpose's outputs can never be replayed as another's.
   */
  for(purpose: string): PurposeKeys {
    let keys = this.purposes.get(purpose);
    if (!keys) {
      keys = new PurposeKeys(
        this.secrets.map((secret) => ({
          id: secretId(secret),
          key: Buffer.from(hkdfSync('sha256', secret, 'tessera-server-secret', purpose, 32)),
        })),
      );
      this.purposes.set(purpose, keys);
    }
    return keys;
  }

  /**
   * A stable, non-reversible identifier for a value (e.g. a normalised email in a rate-limit key),
   * under the newest secret: a copy of Redis does not reveal which addresses were tried.
   */
  identifier(purpose: string, value: string): string {
    return this.for(`identifier:${purpose}`).mac(value, 16);
  }

  /**
   * The configured ring, or in development a secret generated into `file` on first start and
   * reused after (created exclusively, so instances sharing DATA_DIR share it).
   */
  static async load(configured: Buffer[] | undefined, file: string): Promise<{ secrets: ServerSecrets; generated: boolean }> {
    if (configured && configured.length > 0) return { secrets: new ServerSecrets(configured), generated: false };
    return { secrets: new ServerSecrets([await loadOrCreateSecretFile(file)]), generated: true };
  }
}

function secretId(secret: Buffer): string {
  return createHash('sha256').update('tessera-secret-id').update(secret).digest().subarray(0, 4).toString('base64url');
}

async function loadOrCreateSecretFile(path: string): Promise<Buffer> {
  const read = async () => {
    const secret = decodeSecret((await readFile(path, 'utf8')).trim());
    if (!secret) throw new Error(`${path} does not hold a secret of at least ${MIN_SECRET_BYTES} bytes`);
    return secret;
  };
  try {
    return await read();
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
  }
  await mkdir(dirname(path), { recursive: true, mode: 0o700 });
  try {
    await writeFile(path, `${randomBytes(32).toString('hex')}\n`, { flag: 'wx', mode: 0o600 });
    await chmod(path, 0o600);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
  }
  return read();
}
