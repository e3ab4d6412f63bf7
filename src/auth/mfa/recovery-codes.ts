import { randomBytes } from 'node:crypto';
import { Injectable } from '@nestjs/common';
import { ServerSecrets } from '../../secrets/server-secrets.js';

/**
 * Recovery codes: 12 symbols of Crockford's base32 shown as `XXXX-XXXX-XXXX`. 32 symbols are 5 bits
 * each, so a code carries 60 random bits. The alphabet has no I, L, O or U, so nothing read off
 * paper is ambiguous; on input I and L are read as 1 and O as 0, case, spaces and dashes are ignored.
 */
export const RECOVERY_CODE_ALPHABET = '0123456789ABCDEFGHJKMNPQRSTVWXYZ';
export const RECOVERY_CODE_LENGTH = 12;
export const RECOVERY_CODE_GROUP = 4;
export const RECOVERY_CODE_COUNT = 10;
export const RECOVERY_CODE_BITS = RECOVERY_CODE_LENGTH * Math.log2(RECOVERY_CODE_ALPHABET.length);

const NORMALISED_SHAPE = new RegExp(`^[${RECOVERY_CODE_ALPHABET}]{${RECOVERY_CODE_LENGTH}}$`);

/** One new code, formatted for display. */
export function newRecoveryCode(): string {
  // 256 is a multiple of 32, so `byte & 31` picks every symbol with the same probability.
  const symbols = [...randomBytes(RECOVERY_CODE_LENGTH)].map((byte) => RECOVERY_CODE_ALPHABET[byte & 31]).join('');
  return formatRecoveryCode(symbols);
}

/** `ABCDEFGHJKMN` → `ABCD-EFGH-JKMN`. */
export function formatRecoveryCode(normalised: string): string {
  const groups: string[] = [];
  for (let i = 0; i < normalised.length; i += RECOVERY_CODE_GROUP) groups.push(normalised.slice(i, i + RECOVERY_CODE_GROUP));
  return groups.join('-');
}

/** The code as stored (12 symbols, upper case, no separators), or undefined if it cannot be one. */
export function normaliseRecoveryCode(input: unknown): string | undefined {
  if (typeof input !== 'string' || input.length > 64) return undefined;
  const code = input
    .toUpperCase()
    .replace(/[\s-]+/g, '')
    .replace(/O/g, '0')
    .replace(/[IL]/g, '1');
  return NORMALISED_SHAPE.test(code) ? code : undefined;
}

/**
 * What is stored for a code: HMAC-SHA-256 of `<userId>:<normalised code>` under a key derived from
 * SERVER_SECRETS for `recovery-code`.
 *
 * Why a keyed fast hash and not argon2 like passwords: a code has 60 random bits, so there is no
 * dictionary to try and a fast hash costs an attacker with the key 2^59 guesses on average per code;
 * without the key (a stolen database alone) the hashes reveal nothing at all. A keyed hash is also
 * deterministic, so a code is found by an indexed `DELETE … WHERE code_hash IN (…) RETURNING`, one
 * atomic statement, instead of argon2-verifying ten salted hashes and then racing to delete one.
 * The user id in the input ties a hash to its account: a row copied to another user matches nothing.
 */
@Injectable()
export class RecoveryCodeHasher {
  constructor(private readonly secrets: ServerSecrets) {}

  /** The hash to store for a new code, under the newest secret of the ring. */
  hash(userId: string, normalised: string): string {
    return this.secrets.for('recovery-code').mac(`${userId}:${normalised}`, 32);
  }

  /**
   * The hashes `input` may be stored as, one per secret of the ring (prepending a new secret keeps
   * older codes working); none for input that cannot be a code.
   */
  candidates(userId: string, input: unknown): string[] {
    const normalised = normaliseRecoveryCode(input);
    if (!normalised) return [];
    const keys = this.secrets.for('recovery-code');
    return keys.keys.map((k) => keys.mac(`${userId}:${normalised}`, 32, k.key));
  }
}
