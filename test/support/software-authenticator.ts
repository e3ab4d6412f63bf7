import { createHash, generateKeyPairSync, type KeyObject, randomBytes, sign } from 'node:crypto';

/*
 * A software WebAuthn authenticator for API tests: what a browser and an authenticator together
 * would send, built with node:crypto. ES256 keys, `none` attestation, a signature counter, and the
 * flags (UP, UV, BE, BS) the test chooses. Nothing here is checked by it: it signs what it is told,
 * so tests can also make it lie (another origin, RP ID, challenge or counter).
 */

type Json = Record<string, unknown>;

/** The little CBOR WebAuthn needs: unsigned and negative integers, byte and text strings, maps. */
function cbor(value: unknown): Buffer {
  const head = (major: number, length: number): Buffer => {
    if (length < 24) return Buffer.from([(major << 5) | length]);
    if (length < 0x100) return Buffer.from([(major << 5) | 24, length]);
    if (length < 0x10000) return Buffer.from([(major << 5) | 25, length >> 8, length & 0xff]);
    throw new Error('too long for this encoder');
  };
  if (typeof value === 'number') return value >= 0 ? head(0, value) : head(1, -1 - value);
  if (typeof value === 'string') return Buffer.concat([head(3, Buffer.byteLength(value)), Buffer.from(value)]);
  if (value instanceof Uint8Array) return Buffer.concat([head(2, value.length), Buffer.from(value)]);
  if (value instanceof Map) {
    return Buffer.concat([head(5, value.size), ...[...value].flatMap(([k, v]) => [cbor(k), cbor(v)])]);
  }
  throw new Error(`cannot encode ${typeof value}`);
}

const sha256 = (data: Buffer | string) => createHash('sha256').update(data).digest();

export const FLAG = { UP: 0x01, UV: 0x04, BE: 0x08, BS: 0x10, AT: 0x40 } as const;

export interface CeremonyOverrides {
  origin?: string;
  rpId?: string;
  challenge?: string;
  /** The counter to sign instead of the next one. */
  counter?: number;
  type?: string;
}

export class SoftwareAuthenticator {
  /** Every authenticator made in this test file, to find one that can step up an account (`holding`). */
  private static readonly made: SoftwareAuthenticator[] = [];

  /** A user-verifying authenticator that registered a passkey for this user handle (the account id, base64url), if any. */
  static holding(userHandle: string): SoftwareAuthenticator | undefined {
    return SoftwareAuthenticator.made.find((a) => a.userHandle === userHandle && a.flags.uv !== false);
  }

  readonly credentialId = randomBytes(16).toString('base64url');
  private readonly privateKey: KeyObject;
  private readonly publicKey: KeyObject;
  userHandle?: string;
  /** The last counter signed; each assertion signs one more (unless `countless`). */
  counter = 0;

  constructor(
    public origin: string,
    public flags: { up?: boolean; uv?: boolean; be?: boolean; bs?: boolean; countless?: boolean } = {},
  ) {
    ({ privateKey: this.privateKey, publicKey: this.publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' }));
    SoftwareAuthenticator.made.push(this);
  }

  private flagByte(attested: boolean): number {
    const { up = true, uv = true, be = false, bs = false } = this.flags;
    return (up ? FLAG.UP : 0) | (uv ? FLAG.UV : 0) | (be ? FLAG.BE : 0) | (bs ? FLAG.BS : 0) | (attested ? FLAG.AT : 0);
  }

  private coseKey(): Buffer {
    const jwk = this.publicKey.export({ format: 'jwk' });
    return cbor(
      new Map<number, unknown>([
        [1, 2], // kty: EC2
        [3, -7], // alg: ES256
        [-1, 1], // crv: P-256
        [-2, Buffer.from(jwk.x!, 'base64url')],
        [-3, Buffer.from(jwk.y!, 'base64url')],
      ]),
    );
  }

  private clientData(type: string, challenge: string, origin: string): string {
    return Buffer.from(JSON.stringify({ type, challenge, origin, crossOrigin: false })).toString('base64url');
  }

  /** The credential's `toJSON()` after `navigator.credentials.create(options)`. */
  register(options: Json, overrides: CeremonyOverrides = {}): Json {
    const rp = options.rp as { id: string };
    const user = options.user as { id: string };
    this.userHandle = user.id;
    const rpId = overrides.rpId ?? rp.id;
    const counter = Buffer.alloc(4);
    counter.writeUInt32BE(overrides.counter ?? 0);
    const idBytes = Buffer.from(this.credentialId, 'base64url');
    const idLength = Buffer.alloc(2);
    idLength.writeUInt16BE(idBytes.length);
    const authData = Buffer.concat([
      sha256(rpId),
      Buffer.from([this.flagByte(true)]),
      counter,
      Buffer.alloc(16), // AAGUID: none
      idLength,
      idBytes,
      this.coseKey(),
    ]);
    const attestationObject = cbor(
      new Map<string, unknown>([
        ['fmt', 'none'],
        ['attStmt', new Map()],
        ['authData', authData],
      ]),
    );
    return {
      id: this.credentialId,
      rawId: this.credentialId,
      type: 'public-key',
      response: {
        clientDataJSON: this.clientData(
          overrides.type ?? 'webauthn.create',
          overrides.challenge ?? (options.challenge as string),
          overrides.origin ?? this.origin,
        ),
        attestationObject: attestationObject.toString('base64url'),
        transports: ['internal'],
      },
      clientExtensionResults: {},
      authenticatorAttachment: 'platform',
    };
  }

  /** The credential's `toJSON()` after `navigator.credentials.get(options)`. */
  assert(options: Json, overrides: CeremonyOverrides = {}): Json {
    const rpId = overrides.rpId ?? (options.rpId as string);
    if (overrides.counter === undefined && !this.flags.countless) this.counter++;
    const counter = Buffer.alloc(4);
    counter.writeUInt32BE(overrides.counter ?? (this.flags.countless ? 0 : this.counter));
    const authData = Buffer.concat([sha256(rpId), Buffer.from([this.flagByte(false)]), counter]);
    const clientDataJSON = this.clientData(
      overrides.type ?? 'webauthn.get',
      overrides.challenge ?? (options.challenge as string),
      overrides.origin ?? this.origin,
    );
    const signature = sign('sha256', Buffer.concat([authData, sha256(Buffer.from(clientDataJSON, 'base64url'))]), this.privateKey);
    return {
      id: this.credentialId,
      rawId: this.credentialId,
      type: 'public-key',
      response: {
        clientDataJSON,
        authenticatorData: authData.toString('base64url'),
        signature: signature.toString('base64url'),
        userHandle: this.userHandle,
      },
      clientExtensionResults: {},
      authenticatorAttachment: 'platform',
    };
  }
}
