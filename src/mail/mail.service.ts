import { Inject, Injectable } from '@nestjs/common';
import type { ConfigType } from '@nestjs/config';
import { randomUUID } from 'node:crypto';
import { mailConfig } from '../config/configuration.js';
import { DATABASE, type Database } from '../database/database.js';
import { ServerSecrets } from '../secrets/server-secrets.js';
import type { MailRequest } from './mail.js';
import { MailOutboxRepository } from './mail-outbox.repository.js';
import { MAIL_OUTBOX_PURPOSE, MailWorker } from './mail-worker.js';
import { MailTemplates } from './templates.js';
import type { OutgoingMail } from './transport.js';

/**
 * Queues Tessera's mails in a durable outbox (`mail_outbox`); MailWorker sends them. A mail is
 * rendered when it is queued, so a template change never alters a mail already promised.
 */
@Injectable()
export class MailService {
  constructor(
    @Inject(mailConfig.KEY) private readonly config: ConfigType<typeof mailConfig>,
    @Inject(DATABASE) private readonly db: Database,
    private readonly templates: MailTemplates,
    private readonly secrets: ServerSecrets,
    private readonly outbox: MailOutboxRepository,
    private readonly worker: MailWorker,
  ) {}

  /**
   * Queues a mail. `executor` is the transaction of whatever caused the mail, so the mail is
   * queued if and only if that change commits. Never fails for SMTP problems (sending happens
   * later, with retries); a database failure propagates, failing the caller's transaction.
   */
  async send(mail: MailRequest, executor?: Database): Promise<void> {
    const rendered = this.templates.render(mail.template, {
      email: mail.to,
      ...mail.variables,
      // Last: the product name is configuration, not something a caller overrides.
      productName: this.config.productName,
    });
    const message: OutgoingMail = { from: this.config.from, to: mail.to, ...rendered };
    const id = randomUUID();
    // Sealed to its row id: the link in it is a credential, and a box copied to another row does not open.
    const sealed = this.secrets.for(MAIL_OUTBOX_PURPOSE).seal(JSON.stringify(message), id);
    await this.outbox.insert({ id, template: mail.template, sealed }, executor ?? this.db);
    this.worker.kickSoon(executor !== undefined && executor !== this.db);
  }
}
