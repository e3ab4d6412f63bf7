import { randomBytes } from 'node:crypto';
import { Injectable } from '@nestjs/common';
import type { LinkPurpose } from '../database/schema.js';
import { ServerSecrets } from '../secrets/server-secrets.js';

/** 32 random bytes, base64url: 256 bits, 43 characters. */
const TOKEN_BYTES = 32;
const TOKEN_SHAPE = /^[A-Za-z0-9_-]{43}$/;

/**
 * The tokens of mailed links. A token is random and opaque; only an HMAC of it is stored, under a
 * key derived from SERVER_SECRETS for its purpose (`link-token:<purpose>`), so a token made for
 * one purpose never matches a row of another, and a copy of the database holds no usable link.
 * Every secret of the ring is tried on lookup, so prepending a new secret keeps links valid.
 */
@Injectable()
export class LinkTokenCodec {
  constructor(private readonly secrets: ServerSecrets) {}

  /** A fresh token and the hash to store for `purpose`. */
  make(purpose: LinkPurpose): { token: string; hash: string } {
    const token = randomBytes(TOKEN_BYTES).toString('base64url');
    return { token, hash: this.secrets.for(`link-token:${purpose}`).mac(token, 32) };
  }

  /** The hashes `token` would be stored as, for each purpose and each secret of the ring; none for a malformed token. */
  candidates(token: string, purposes: readonly LinkPurpose[]): string[] {
    if (!TOKEN_SHAPE.test(token)) return [];
    return purposes.flatMap((purpose) => {
      const keys = this.secrets.for(`link-token:${purpose}`);
      return keys.keys.map((k) => keys.mac(token, 32, k.key));
    });
  }
}
