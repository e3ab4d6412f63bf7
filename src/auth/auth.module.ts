import { Module } from '@nestjs/common';
import { APP_GUARD } from '@nestjs/core';
import { JwtModule } from '@nestjs/jwt';
import { UsersModule } from '../users/users.module.js';
import { ActivityController } from './activity.controller.js';
import { AuthController } from './auth.controller.js';
import { AuthService } from './auth.service.js';
import { BootstrapAdmin } from './bootstrap-admin.js';
import { LoginThrottle } from './login-throttle.js';
import { MfaController } from './mfa.controller.js';
import { MfaService } from './mfa.service.js';
import { MfaTickets } from './mfa-tickets.js';
import { MfaPolicyGuard } from './guards/mfa-policy.guard.js';
import { SecondFactorCheck } from './second-factor-check.js';
import { SecondFactors } from './second-factors.service.js';
import { TotpService } from './mfa/totp.service.js';
import { PasskeysService } from './passkeys/passkeys.service.js';
import { AccessTokenGuard } from './guards/access-token.guard.js';
import { OriginGuard } from './guards/origin.guard.js';
import { RecentAuthGuard } from './guards/recent-auth.guard.js';
import { RolesGuard } from './guards/roles.guard.js';
import { MfaModule } from './mfa/mfa.module.js';
import { PasskeyAuthService } from './passkey-auth.service.js';
import { PasskeysController } from './passkeys.controller.js';
import { PasskeysModule } from './passkeys/passkeys.module.js';
import { PasswordsModule } from './passwords/passwords.module.js';
import { AuthCookies } from './auth-cookies.js';
import { RefreshController } from './refresh.controller.js';
import { RefreshService } from './refresh.service.js';
import { SessionsController } from './sessions.controller.js';
import { SessionsModule } from './sessions/sessions.module.js';
import { JwksController } from './tokens/jwks.controller.js';
import { TokenService } from './tokens/token.service.js';

@Module({
  imports: [
    // Keys are passed per call (KeyService, from the global KeysModule), so several can be published and rotated.
    JwtModule.register({}),
    PasswordsModule,
    PasskeysModule,
    MfaModule,
    SessionsModule,
    UsersModule,
  ],
  controllers: [
    AuthController,
    MfaController,
    PasskeysController,
    RefreshController,
    SessionsController,
    ActivityController,
    JwksController,
  ],
  providers: [
    TokenService,
    AuthService,
    PasskeyAuthService,
    LoginThrottle,
    BootstrapAdmin,
    RefreshService,
    AuthCookies,
    OriginGuard,
    MfaTickets,
    SecondFactorCheck,
    MfaService,
    {
      provide: SecondFactors,
      inject: [TotpService, PasskeysService],
      useFactory: (totp: TotpService, passkeys: PasskeysService) => new SecondFactors(totp, passkeys),
    },
    // Order matters: authenticate first, then check roles, then MFA_REQUIRED_ROLES, then how recently the user proved who they are.
    { provide: APP_GUARD, useClass: AccessTokenGuard },
    { provide: APP_GUARD, useClass: RolesGuard },
    { provide: APP_GUARD, useClass: MfaPolicyGuard },
    { provide: APP_GUARD, useClass: RecentAuthGuard },
  ],
  exports: [TokenService, SessionsModule, PasskeysModule, SecondFactors, SecondFactorCheck],
})
export class AuthModule {}
