import { type DynamicModule, Module } from '@nestjs/common';
import { EventEmitterModule } from '@nestjs/event-emitter';
import { AccountsModule } from './accounts/accounts.module.js';
import { AdminModule } from './admin/admin.module.js';
import { AuditModule } from './audit/audit.module.js';
import { AuthModule } from './auth/auth.module.js';
import { AppCacheModule } from './cache/app-cache.module.js';
import { LoggingModule } from './logging/logging.module.js';
import { MailModule } from './mail/mail.module.js';
import { AppConfigModule } from './config/config.module.js';
import { KeysModule } from './auth/tokens/keys.module.js';
import type { Preflight } from './preflight.js';
import { DatabaseModule } from './database/database.module.js';
import { HealthModule } from './health/health.module.js';
import { MetricsModule } from './metrics/metrics.module.js';
import { OAuthModule } from './oauth/oauth.module.js';
import { RedisModule } from './redis/redis.module.js';
import { RevocationLogModule } from './revocations/revocation-log.module.js';
import { RevocationsModule } from './revocations/revocations.module.js';
import { ThrottlingModule } from './throttling/throttling.module.js';
import { TicketsModule } from './tickets/tickets.module.js';
import { UsersModule } from './users/users.module.js';

/** The composition: what the preflight loaded, then every module. */
@Module({})
export class AppModule {
  static forRoot(loaded: Preflight): DynamicModule {
    return {
      module: AppModule,
      imports: [
        AppConfigModule.forRoot(loaded.config),
        KeysModule.forRoot(loaded),
        LoggingModule,
        DatabaseModule,
        RedisModule,
        RevocationLogModule,
        // `security.login.failed` etc.: `@OnEvent('security.**')` hears every security event.
        EventEmitterModule.forRoot({ wildcard: true, delimiter: '.' }),
        AuditModule,
        MailModule.forRoot(loaded.mailTemplates),
        AppCacheModule,
        MetricsModule,
        ThrottlingModule,
        TicketsModule,
        UsersModule,
        AuthModule,
        AccountsModule,
        AdminModule,
        RevocationsModule,
        HealthModule,
        OAuthModule,
      ],
    };
  }
}
