import { type DynamicModule, Logger, Module } from '@nestjs/common';
import type { ConfigType } from '@nestjs/config';
import { join } from 'node:path';
import { mailConfig, storageConfig } from '../config/configuration.js';
import { MailOutboxRepository } from './mail-outbox.repository.js';
import { MailService } from './mail.service.js';
import { MailWorker } from './mail-worker.js';
import { MailTemplates } from './templates.js';
import { FileOutboxTransport, MAIL_TRANSPORT, type MailTransport, SmtpTransport } from './transport.js';

/** Outgoing mail through a durable outbox. Global: any module sends through MailService. */
@Module({})
export class MailModule {
  /** `templates`: read and checked by the preflight, before Nest starts. */
  static forRoot(templates: MailTemplates): DynamicModule {
    return {
      module: MailModule,
      global: true,
      providers: [
        { provide: MailTemplates, useValue: templates },
        {
          provide: MAIL_TRANSPORT,
          inject: [mailConfig.KEY, storageConfig.KEY],
          useFactory: (config: ConfigType<typeof mailConfig>, storage: ConfigType<typeof storageConfig>): MailTransport => {
            if (config.smtpUrl) return new SmtpTransport(config.smtpUrl);
            const dir = join(storage.dataDir, 'outbox');
            new Logger('Mail').warn(`No SMTP_URL: mails are written to ${dir} (development only)`);
            return new FileOutboxTransport(dir);
          },
        },
        MailOutboxRepository,
        MailWorker,
        MailService,
      ],
      exports: [MailService],
    };
  }
}
