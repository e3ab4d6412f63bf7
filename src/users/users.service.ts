import { CACHE_MANAGER } from '@nestjs/cache-manager';
import { Inject, Injectable, Logger, type OnApplicationBootstrap } from '@nestjs/common';
import type { ConfigType } from '@nestjs/config';
import type { Cache } from 'cache-manager';
import { SecurityEventsService } from '../audit/security-events.service.js';
import { withDeadline } from '../common/deadline.js';
import { DependencyUnavailableError } from '../common/problems/dependency-error.js';
import { Problems } from '../common/problems/problem.js';
import { authConfig } from '../config/configuration.js';
import { PasswordService } from '../auth/passwords/password.service.js';
import { normaliseEmail, type User } from './user.js';
import { EmailTakenError, LastAdminError, UsersRepository } from './users.repository.js';

const CACHE_TTL_MS = 60_000;
/** A cache that does not answer within a Redis command deadline is skipped for the database. */
const CACHE_DEADLINE_MS = 1000;
const cacheKey = (id: string) => `user:${id}`;

type CachedUser = Omit<User, 'createdAt' | 'updatedAt'> & { createdAt: string; updatedAt: string };

/** User policy: registration, lookups (cached), admin changes, the bootstrap admin. */
@Injectable()
export class UsersService implements OnApplicationBootstrap {
  private readonly logger = new Logger('Users');

  constructor(
    private readonly repository: UsersRepository,
    private readonly passwords: PasswordService,
    @Inject(CACHE_MANAGER) private readonly cache: Cache,
    @Inject(authConfig.KEY) private readonly auth: ConfigType<typeof authConfig>,
    private readonly events: SecurityEventsService,
  ) {}

  /**
   * Create-only: the bootstrap admin is made when its address is free, and an existing account is
   * never promoted, re-enabled or given the configured password. Upserting would hand admin rights
   * (and a password the operator knows) to whoever registered that address first, keep their
   * sessions alive, and undo a deliberate disable or password change on every restart.
   */
  async onApplicationBootstrap(): Promise<void> {
    const admin = this.auth.bootstrapAdmin;
    if (!admin) return;
    const email = normaliseEmail(admin.email);
    const created = await this.repository.insertIfAbsent(email, await this.passwords.hash(admin.password), ['user', 'admin']);
    if (created) {
      // By id: emails never reach the logs.
      this.logger.log(`Bootstrap admin created (user ${created.id})`);
      await this.events.record({ type: 'bootstrap.admin', userId: created.id, details: { created: true } });
      return;
    }
    // Usually the admin created on an earlier start; an account that is not an admin is worth a warning.
    const existing = await this.repository.findByEmail(email);
    const isAdmin = existing?.roles.includes('admin') ?? false;
    const line =
      `Bootstrap admin not created: an account with BOOTSTRAP_ADMIN_EMAIL already exists (user ${existing?.id}${isAdmin ? ', with the admin role' : ''}); it was left unchanged ` +
      '(promote it with PATCH /admin/users/:id if it is yours)';
    if (isAdmin) this.logger.log(line);
    else this.logger.warn(line);
    await this.events.record({
      type: 'bootstrap.admin',
      outcome: 'failure',
      userId: existing?.id,
      details: { created: false, reason: isAdmin ? 'exists_as_admin' : 'exists_not_admin', email },
    });
  }

  async register(email: string, password: string): Promise<User> {
    try {
      return await this.repository.insert(normaliseEmail(email), await this.passwords.hash(password), ['user']);
    } catch (error) {
      if (error instanceof EmailTakenError) throw Problems.emailTaken();
      throw error;
    }
  }

  /** Cached for a minute; every change below invalidates it. */
  async findById(id: string): Promise<User | undefined> {
    const cached = await withDeadline(this.cache.get<CachedUser>(cacheKey(id)), CACHE_DEADLINE_MS, undefined);
    if (cached) return { ...cached, createdAt: new Date(cached.createdAt), updatedAt: new Date(cached.updatedAt) };
    const user = await this.repository.findById(id);
    if (user) void withDeadline(this.cache.set(cacheKey(id), user, CACHE_TTL_MS), CACHE_DEADLINE_MS, undefined);
    return user;
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

  async setPassword(id: string, password: string): Promise<void> {
    await this.repository.update(id, { passwordHash: await this.passwords.hash(password) });
    await this.forget(id);
  }

  /** A failed invalidation fails the change (503, retry) rather than leave a stale record served. */
  private async forget(id: string): Promise<void> {
    const deleted = await withDeadline(
      this.cache.del(cacheKey(id)).then(() => true),
      CACHE_DEADLINE_MS * 10,
      false,
    );
    if (!deleted) throw new DependencyUnavailableError('redis');
  }
}
