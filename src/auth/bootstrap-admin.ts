import { Inject, Injectable, Logger, type OnApplicationBootstrap } from '@nestjs/common';
import type { ConfigType } from '@nestjs/config';
import { SecurityEventsService } from '../audit/security-events.service.js';
import { normaliseEmail } from '../common/email.js';
import { ConfigError } from '../config/config-error.js';
import { authConfig } from '../config/configuration.js';
import { UsersService } from '../users/users.service.js';
import { PasswordPolicy } from './passwords/password-policy.js';
import { PasswordService } from './passwords/password.service.js';

/** The admin account BOOTSTRAP_ADMIN_EMAIL/BOOTSTRAP_ADMIN_PASSWORD name, made at start-up. */
@Injectable()
export class BootstrapAdmin implements OnApplicationBootstrap {
  private readonly logger = new Logger('Users');

  constructor(
    private readonly users: UsersService,
    private readonly passwords: PasswordService,
    private readonly policy: PasswordPolicy,
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
    // The password policy, as for every password set, on every start (whether or not the admin
    // exists yet): a refused one stops the start-up with one line naming the variable and the
    // rule, never the password nor the address.
    const refused = this.policy.refusal(admin.password, email);
    if (refused) throw new ConfigError('BOOTSTRAP_ADMIN_PASSWORD', `is refused by the password policy: it ${refused}`);
    // Verified: the operator chose the address (and REQUIRE_VERIFIED_EMAIL must not lock the admin out).
    const created = await this.users.createIfAbsent(email, await this.passwords.hash(admin.password), ['user', 'admin'], true);
    if (created) {
      // By id: emails never reach the logs.
      this.logger.log(`Bootstrap admin created (user ${created.id})`);
      await this.events.record({ type: 'bootstrap.admin', userId: created.id, details: { created: true } });
      return;
    }
    // Usually the admin created on an earlier start; an account that is not an admin is worth a warning.
    const existing = await this.users.findByEmail(email);
    const isAdmin = existing?.roles.includes('admin') ?? false;
    const line =
      `Bootstrap admin not created: an account with BOOTSTRAP_ADMIN_EMAIL already exists (user ${existing?.id}${isAdmin ? ', with the admin role' : ''}); it was left unchanged ` +
      '(promote it with PATCH /admin/users/:id if it is yours)';
    if (isAdmin) this.logger.log(line);
    else this.logger.warn(line);
    // The ordinary restart (the admin made on an earlier start) is a success, not a failure that
    // would feed alerts on every deploy. By id only: emails never reach the events or the logs.
    await this.events.record({
      type: 'bootstrap.admin',
      outcome: isAdmin ? 'success' : 'failure',
      userId: existing?.id,
      details: { created: false, reason: isAdmin ? 'exists_as_admin' : 'exists_not_admin' },
    });
  }
}
