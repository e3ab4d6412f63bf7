import { Inject, Injectable, type OnModuleInit } from '@nestjs/common';
import type { ConfigType } from '@nestjs/config';
import { type Algorithm, hash, verify } from '@node-rs/argon2';
import { Problems } from '../../common/problems/problem.js';
import { authConfig } from '../../config/configuration.js';
import { Admission } from './admission.js';

/** Algorithm.Argon2id: a const enum, which per-file compilation (swc, isolated modules) cannot inline. */
const ARGON2ID: Algorithm = 2;

/** OWASP's argon2id baseline: 19 MiB, 2 iterations, 1 lane. */
const ARGON2_OPTIONS = { algorithm: ARGON2ID, memoryCost: 19456, timeCost: 2, parallelism: 1 } as const;

/**
 * argon2id hashing of the NFKC form of passwords; verifying an unknown user costs the same as a known one.
 *
 * Both run on libuv's small thread pool (4 threads by default), which logins share. New hashes
 * (registration, password changes) go through admission control, so a burst of registrations
 * holds at most PASSWORD_HASH_CONCURRENCY threads and the rest of the pool stays free for logins'
 * verifications; beyond PASSWORD_HASH_QUEUE waiting, they are refused at once with 503.
 */
@Injectable()
export class PasswordService implements OnModuleInit {
  private dummyHash!: string;
  private readonly hashing: Admission;

  constructor(@Inject(authConfig.KEY) auth: ConfigType<typeof authConfig>) {
    this.hashing = new Admission(auth.passwordHashing.concurrency, auth.passwordHashing.queue, () => Problems.hashingBusy());
  }

  async onModuleInit(): Promise<void> {
    // A real hash of a random password, so "no such user" does the same work as "wrong password".
    this.dummyHash = await hash(crypto.randomUUID(), ARGON2_OPTIONS);
  }

  /**
   * Hashes the NFKC form (NIST SP 800-63B-4: one password, however the keyboard composed it).
   * Throws 503 `service_unavailable` (Retry-After) when too many hashes are running and waiting.
   */
  hash(password: string): Promise<string> {
    const normalised = password.normalize('NFKC');
    return this.hashing.run(() => hash(normalised, ARGON2_OPTIONS));
  }

  /** `storedHash` undefined (unknown user) still spends the same verification work, then fails. */
  async verify(storedHash: string | undefined, password: string): Promise<boolean> {
    return (await this.check(storedHash, password)).ok;
  }

  /**
   * Verifies the NFKC form; when that fails and the raw form differs from it, the raw form too: a
   * hash made before passwords were normalised (or by another system) still verifies, and `rehash`
   * says the caller should store `hash(password)` in its place. When the raw form is already NFKC
   * (nearly always) there is one argon2 verification, not two. An unknown user does exactly the
   * work a known one would for the same password, so timing does not tell them apart.
   */
  async check(storedHash: string | undefined, password: string): Promise<{ ok: boolean; rehash: boolean }> {
    const normalised = password.normalize('NFKC');
    const against = storedHash ?? this.dummyHash;
    if (await verifyQuietly(against, normalised)) return { ok: storedHash !== undefined, rehash: false };
    if (normalised !== password && (await verifyQuietly(against, password))) return { ok: storedHash !== undefined, rehash: true };
    return { ok: false, rehash: false };
  }
}

/** A malformed stored hash is a failed verification, not an error. */
async function verifyQuietly(storedHash: string, password: string): Promise<boolean> {
  try {
    return await verify(storedHash, password);
  } catch {
    return false;
  }
}
