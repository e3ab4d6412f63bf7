import { Module } from '@nestjs/common';
import { AuthModule } from '../auth/auth.module.js';
import { ServiceClientGuard } from '../auth/guards/service-client.guard.js';
import { UsersModule } from '../users/users.module.js';
import { OAuthClientGuard } from './oauth-client.guard.js';
import { OAuthController } from './oauth.controller.js';
import { OAuthService } from './oauth.service.js';

/** RFC 7662 introspection and RFC 7009 revocation (/oauth/*). */
@Module({
  imports: [AuthModule, UsersModule],
  controllers: [OAuthController],
  providers: [OAuthService, ServiceClientGuard, OAuthClientGuard],
})
export class OAuthModule {}
