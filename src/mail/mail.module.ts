import { Global, Module } from '@nestjs/common';
import { MailService } from './mail.service.js';

/** Outgoing mail. Global: any module sends through MailService. */
@Global()
@Module({
  providers: [MailService],
  exports: [MailService],
})
export class MailModule {}
