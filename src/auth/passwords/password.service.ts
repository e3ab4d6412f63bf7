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
 * argon2id hashing; verifying an unknown user costs the same as a known one.
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

  /** Throws 503 `service_unavailable` (Retry-After) when too many hashes are running and waiting. */
  hash(password: string): Promise<string> {
    return this.hashing.run(() => hash(password, ARGON2_OPTIONS));
  }

  /** `storedHash` undefined (unknown user) still spends one full verification, then fails. */
  async verify(storedHash: string | undefined, password: string): Promise<boolean> {
    try {
      const ok = await verify(storedHash ?? this.dummyHash, password);
      return ok && storedHash !== undefined;
    } catch {
      return false;
    }
  }
}
