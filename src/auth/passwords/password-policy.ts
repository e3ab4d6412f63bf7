import { Inject, Injectable } from '@nestjs/common';
import type { ConfigType } from '@nestjs/config';
import { dictionary } from '@zxcvbn-ts/language-common';
import { Problems } from '../../common/problems/problem.js';
import { accountsConfig, mailConfig } from '../../config/configuration.js';

/** What a password is judged against besides itself: the account's address, and which body field it came in. */
export interface PasswordContext {
  /** The account's (normalised) email, whose address and local part may not appear in the password. */
  email?: string;
  /** The body field named in the 400 `weak_password` (`password`, `newPassword`). */
  field: string;
}

/**
 * The longest password accepted, in code points after NFKC. NIST asks that at least 64 be allowed
 * (Tessera promises 256); a maximum still exists because every accepted password is fed whole to
 * argon2 (no truncation), and an unbounded one would let a client buy seconds of hashing with one
 * request. 1024 code points are at most 4 KiB of UTF-8, well inside the 16 KiB body limit.
 */
export const PASSWORD_MAX_LENGTH = 1024;

/** Context words shorter than this are too common as parts of ordinary words to refuse. */
const MIN_CONTEXT_WORD = 4;

/** How a password (or a word it is compared with) is compared: NFKC, then lower case. */
export const comparable = (text: string): string => text.normalize('NFKC').toLowerCase();

let commonPasswords: Set<string> | undefined;

/**
 * The most common passwords (about 49,000, lower case) of @zxcvbn-ts/language-common, drawn from
 * real breach corpora and shipped with the package: no network at run time. Built once per process,
 * on first use (PasswordPolicy's constructor, so at start-up).
 */
export function commonPasswordList(): Set<string> {
  // The entries are lower-case ASCII today; only others would need normalising.
  commonPasswords ??= new Set(
    dictionary['passwords-common'].map((entry) => (/^[\x20-\x7e]*$/.test(entry) ? entry.toLowerCase() : comparable(entry))),
  );
  return commonPasswords;
}

/**
 * The one place that decides whether a new password is acceptable (NIST SP 800-63B-4): register,
 * change, reset and the bootstrap admin all ask it; logins never do (existing passwords keep
 * working until changed). In order: length (PASSWORD_MIN_LENGTH to 1024 code points, after NFKC),
 * not one of the most common passwords, no context word (the account's email, its local part of 4
 * or more characters, "tessera" and MAIL_PRODUCT_NAME). No composition rules (NIST advises against
 * them: they push people to predictable patterns, not strength).
 *
 * Cheap: a Set lookup and a few substring searches (see docs/performance.md); it runs before any
 * argon2 work, so a refused password costs no hashing.
 */
@Injectable()
export class PasswordPolicy {
  private readonly blocklist = commonPasswordList();
  /** The service's own names, compared lower-cased (NFKC): a password naming the service is easy to guess. */
  private readonly serviceWords: string[];

  constructor(
    @Inject(accountsConfig.KEY) private readonly accounts: ConfigType<typeof accountsConfig>,
    @Inject(mailConfig.KEY) mail: ConfigType<typeof mailConfig>,
  ) {
    this.serviceWords = [...new Set(['tessera', comparable(mail.productName.trim())])].filter(
      (word) => [...word].length >= MIN_CONTEXT_WORD,
    );
  }

  /**
   * Throws 400 `weak_password` naming `context.field` when the password is refused; the message
   * names the rule in plain words and never repeats the password.
   */
  check(password: string, context: PasswordContext): void {
    const refused = this.refusal(password, context.email);
    if (refused) throw Problems.weakPassword(context.field, refused);
  }

  /** Why the password is refused, or undefined when it is acceptable. */
  refusal(password: string, email?: string): string | undefined {
    const normalised = password.normalize('NFKC');
    const length = countCodePoints(normalised, PASSWORD_MAX_LENGTH + 1);
    if (length < this.accounts.passwordMinLength) return `must be at least ${this.accounts.passwordMinLength} characters`;
    if (length > PASSWORD_MAX_LENGTH) return `must be at most ${PASSWORD_MAX_LENGTH} characters`;
    const lower = normalised.toLowerCase();
    if (this.blocklist.has(lower)) return 'is one of the most common passwords';
    if (email !== undefined && emailWords(email).some((word) => lower.includes(word))) return 'must not contain your email address';
    if (this.serviceWords.some((word) => lower.includes(word))) return 'must not contain the name of this service';
    return undefined;
  }
}

/** The address itself and, when 4 or more characters, its local part. */
function emailWords(email: string): string[] {
  const address = comparable(email.trim());
  const at = address.lastIndexOf('@');
  const local = at > 0 ? address.slice(0, at) : '';
  return [address, local].filter((word) => [...word].length >= MIN_CONTEXT_WORD);
}

/** Code points in `text`, counting no further than `limit` (a long input is not walked to its end). */
function countCodePoints(text: string, limit: number): number {
  let count = 0;
  for (let i = 0; i < text.length && count < limit; i++, count++) {
    // A surrogate pair is one code point (lone surrogates are refused earlier, by the DTOs).
    const unit = text.charCodeAt(i);
    if (unit >= 0xd800 && unit <= 0xdbff && i + 1 < text.length) {
      const next = text.charCodeAt(i + 1);
      if (next >= 0xdc00 && next <= 0xdfff) i++;
    }
  }
  return count;
}
