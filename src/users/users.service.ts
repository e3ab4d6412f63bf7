import { CACHE_MANAGER } from '@nestjs/cache-manager';
import { Inject, Injectable } from '@nestjs/common';
import { randomUUID } from 'node:crypto';
import type { Cache } from 'cache-manager';
import { withDeadline } from '../common/deadline.js';
import { DependencyUnavailableError } from '../common/problems/dependency-error.js';
import { Problems } from '../common/problems/problem.js';
import { normaliseEmail } from '../common/email.js';
import type { Database } from '../database/database.js';
import type { User } from './user.js';
import { EmailTakenError, LastAdminError, UsersRepository } from './users.repository.js';

const CACHE_TTL_MS = 60_000;
/** A cache that does not answer within a Redis command deadline is skipped for the database. */
const CACHE_DEADLINE_MS = 1000;
const cacheKey = (id: string) => `user:${id}`;
/** Changed by every forget(): a fill that read the database before a change sees it moved and undoes itself. */
const versionKey = (id: string) => `user:${id}:version`;

type CachedUser = Omit<User, 'createdAt' | 'updatedAt' | 'rolesChangedAt'> & {
  createdAt: string;
  updatedAt: string;
  rolesChangedAt?: string;
};

/** User policy: accounts (created with a hash auth/ made), lookups (cached), admin changes. */
@Injectable()
export class UsersService {
  constructor(
    private readonly repository: UsersRepository,
    @Inject(CACHE_MANAGER) private readonly cache: Cache,
  ) {}

  /**
   * One database transaction for a change above users/ (accounts/: a user, its link and its mail
   * commit together). Pass `tx` to the methods below that take an executor; cached records are the
   * caller's to drop (`forget`) once the transaction has committed.
   */
  transaction<T>(work: (tx: Database) => Promise<T>): Promise<T> {
    return this.repository.transaction(work);
  }

  /** A new account with the `user` role; `passwordHash` comes from auth/ (PasswordService). */
  async create(email: string, passwordHash: string, executor?: Database): Promise<User> {
    try {
      return await this.repository.insert(normaliseEmail(email), passwordHash, ['user'], executor);
    } catch (error) {
      if (error instanceof EmailTakenError) throw Problems.emailTaken();
      throw error;
    }
  }

  /**
   * Creates the account unless the email is taken; undefined when it was (the existing one is not
   * touched). `emailVerified`: the operator vouches for the address (the bootstrap admin).
   */
  createIfAbsent(email: string, passwordHash: string, roles: string[], emailVerified = false): Promise<User | undefined> {
    return this.repository.insertIfAbsent(normaliseEmail(email), passwordHash, roles, emailVerified);
  }

  /** Straight from the database, inside `executor`'s transaction when given. */
  findInTransaction(id: string, executor: Database): Promise<User | undefined> {
    return this.repository.findById(id, executor);
  }

  /** Marks `email` verified while it is still the account's address; undefined when it is not (or no such user). */
  markEmailVerified(id: string, email: string, executor?: Database): Promise<User | undefined> {
    return this.repository.markEmailVerified(id, email, executor);
  }

  /** The account's address becomes `email` (verified: a link sent there was used); 409 `email_taken` if another account holds it. */
  async changeEmail(id: string, email: string, executor?: Database): Promise<User | undefined> {
    try {
      return await this.repository.changeEmail(id, normaliseEmail(email), executor);
    } catch (error) {
      if (error instanceof EmailTakenError) throw Problems.emailTaken();
      throw error;
    }
  }

  findByEmail(email: string): Promise<User | undefined> {
    return this.repository.findByEmail(normaliseEmail(email));
  }

  /** Cached for a minute; every change below invalidates it. */
  async findById(id: string): Promise<User | undefined> {
    const cached = await withDeadline(this.cache.get<CachedUser>(cacheKey(id)), CACHE_DEADLINE_MS, undefined);
    if (cached) {
      const { rolesChangedAt, ...rest } = cached;
      return {
        ...rest,
        createdAt: new Date(cached.createdAt),
        updatedAt: new Date(cached.updatedAt),
        ...(rolesChangedAt ? { rolesChangedAt: new Date(rolesChangedAt) } : {}),
      };
    }
    const before = await withDeadline(this.cache.get<string>(versionKey(id)), CACHE_DEADLINE_MS, undefined);
    const user = await this.repository.findById(id);
    if (user) void this.fill(id, user, before ?? null);
    return user;
  }

  /**
   * Caches a record read from the database, unless a change was made meanwhile: a read that
   * started before an update but answered after its forget() must not put the old record (old
   * roles) back for a minute. The version is checked again after the write, so a forget() landing
   * between the two is seen too (and one landing after the write deletes it itself).
   */
  private async fill(id: string, user: User, before: string | null): Promise<void> {
    const version = () =>
      withDeadline(
        this.cache.get<string>(versionKey(id)).then((v) => v ?? null),
        CACHE_DEADLINE_MS,
        'unknown',
      );
    if ((await version()) !== before) return;
    await withDeadline(this.cache.set(cacheKey(id), user, CACHE_TTL_MS), CACHE_DEADLINE_MS, undefined);
    if ((await version()) !== before) await withDeadline(this.cache.del(cacheKey(id)), CACHE_DEADLINE_MS, undefined);
  }

  /** Straight from the database: for authorisation decisions, which must not trail a change. */
  findFresh(id: string): Promise<User | undefined> {
    return this.repository.findById(id);
  }

  async getById(id: string): Promise<User> {
    const user = await this.findById(id);
    if (!user) throw Problems.notFound('No user with this id');
    return user;
  }

  findCredentialsByEmail(email: string) {
    return this.repository.findCredentialsByEmail(normaliseEmail(email));
  }

  findPasswordHash(id: string) {
    return this.repository.findPasswordHash(id);
  }

  /** A change that would leave no enabled admin is refused with 409 `last_admin`. */
  async update(id: string, changes: { disabled?: boolean; roles?: string[] }): Promise<User> {
    const mayRemoveAnAdmin = changes.disabled === true || (changes.roles !== undefined && !changes.roles.includes('admin'));
    let user: User | undefined;
    try {
      user = mayRemoveAnAdmin ? await this.repository.updateKeepingAnAdmin(id, changes) : await this.repository.update(id, changes);
    } catch (error) {
      if (error instanceof LastAdminError) throw Problems.lastAdmin();
      throw error;
    }
    if (!user) throw Problems.notFound('No user with this id');
    await this.forget(id);
    return user;
  }

  /** Stores a new password hash (made by auth/); the user's reset and email-change links die with the old password. */
  async setPasswordHash(id: string, passwordHash: string): Promise<void> {
    await this.repository.setPasswordHash(id, passwordHash);
    await this.forget(id);
  }

  /** Ends the user's pending password-reset and email-change links (see UsersRepository.cancelPendingLinks). */
  cancelPendingLinks(id: string): Promise<void> {
    return this.repository.cancelPendingLinks(id);
  }

  /**
   * Replaces the hash by a new hash of the same password (auth/'s rehash on login), only if it is
   * still `expected`; false when it changed meanwhile. No cache to clear: cached users carry no hash.
   */
  replacePasswordHash(id: string, expected: string, passwordHash: string): Promise<boolean> {
    return this.repository.replacePasswordHash(id, expected, passwordHash);
  }

  /**
   * A password reset: the new hash, the address marked verified (the link proved the mailbox), only
   * while the account still has `email` and is enabled; undefined otherwise (nothing changed).
   */
  resetPasswordHash(id: string, passwordHash: string, email: string, executor: Database): Promise<User | undefined> {
    return this.repository.setPasswordHash(id, passwordHash, { markEmailVerified: true, onlyIf: { email, enabled: true } }, executor);
  }

  /**
   * Drops the cached record. A failed invalidation fails the change (503, retry) rather than leave a
   * stale record served. Public for changes made in a caller's transaction (after it commits).
   */
  async forget(id: string): Promise<void> {
    const deleted = await withDeadline(
      // The version first: a fill that read the old record and checks after this sees it moved.
      this.cache
        .set(versionKey(id), randomUUID(), CACHE_TTL_MS * 2)
        .then(() => this.cache.del(cacheKey(id)))
        .then(() => true),
      CACHE_DEADLINE_MS * 10,
      false,
    );
    if (!deleted) throw new DependencyUnavailableError('redis');
  }
}
