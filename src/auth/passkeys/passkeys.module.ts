import { Module } from '@nestjs/common';
import { PasskeysRepository } from './passkeys.repository.js';
import { PasskeysService } from './passkeys.service.js';

/**
 * Passkeys (an inner room of auth/, like mfa/): WebAuthn ceremonies and the credentials table,
 * below the HTTP layer. Uses database/, secrets/, tickets/ and config/ (global modules); nothing
 * here knows about sessions or tokens.
 */
@Module({
  providers: [PasskeysRepository, PasskeysService],
  exports: [PasskeysService],
})
export class PasskeysModule {}
