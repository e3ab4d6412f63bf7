import { Module } from '@nestjs/common';
import { RevocationFeedService } from './revocation-feed.service.js';
import { RevocationsController } from './revocations.controller.js';

/** GET /auth/revocations; the log it reads is RevocationLogModule's (global). */
@Module({
  controllers: [RevocationsController],
  providers: [RevocationFeedService],
})
export class RevocationsModule {}
