import { Injectable, type OnModuleInit } from '@nestjs/common';
import { type Algorithm, hash, verify } from '@node-rs/argon2';

/** Algorithm.Argon2id: a const enum, which per-file compilation (swc, isolated modules) cannot inline. */
const ARGON2ID: Algorithm = 2;

/** OWASP's argon2id baseline: 19 MiB, 2 iterations, 1 lane. */
const ARGON2_OPTIONS = { algorithm: ARGON2ID, memoryCost: 19456, timeCost: 2, parallelism: 1 } as const;

/** argon2id hashing; verifying an unknown user costs the same as a known one. */
@Injectable()
export class PasswordService implements OnModuleInit {
  private dummyHash!: string;

  async onModuleInit(): Promise<void> {
    // A real hash of a random password, so "no such user" does the same work as "wrong password".
    this.dummyHash = await hash(crypto.randomUUID(), ARGON2_OPTIONS);
  }

  hash(password: string): Promise<string> {
    return hash(password, ARGON2_OPTIONS);
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
