import { Inject, Injectable, Logger } from '@nestjs/common';
import type { ConfigType } from '@nestjs/config';
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { randomUUID } from 'node:crypto';
import nodemailer from 'nodemailer';
import { mailConfig, storageConfig } from '../config/configuration.js';
import type { Database } from '../database/database.js';
import type { MailRequest } from './mail.js';

/**
 * Sends Tessera's mails. FIRST CUT (to be replaced by the durable outbox): sends at once, in the
 * background, never failing the caller.
 */
@Injectable()
export class MailService {
  private readonly logger = new Logger('Mail');

  constructor(
    @Inject(mailConfig.KEY) private readonly config: ConfigType<typeof mailConfig>,
    @Inject(storageConfig.KEY) private readonly storage: ConfigType<typeof storageConfig>,
  ) {}

  /**
   * Queues a mail. `executor` is the transaction of whatever caused the mail, so the mail is
   * queued if and only if that change commits.
   */
  async send(mail: MailRequest, _executor?: Database): Promise<void> {
    const subject = `${this.config.productName}: ${mail.template}`;
    const text = Object.entries(mail.variables)
      .map(([k, v]) => `${k}: ${v}`)
      .join('\n');
    void this.deliver({ from: this.config.from, to: mail.to, subject, text, html: `<pre>${text}</pre>` }).catch((error: unknown) =>
      this.logger.warn(`mail ${mail.template} not sent: ${String(error)}`),
    );
  }

  private async deliver(message: { from: string; to: string; subject: string; text: string; html: string }): Promise<void> {
    if (this.config.smtpUrl) {
      await nodemailer.createTransport(this.config.smtpUrl).sendMail(message);
      return;
    }
    const dir = join(this.storage.dataDir, 'outbox');
    await mkdir(dir, { recursive: true });
    const built = await nodemailer.createTransport({ streamTransport: true, buffer: true }).sendMail(message);
    await writeFile(join(dir, `${new Date().toISOString().replace(/[:.]/g, '-')}-${randomUUID()}.eml`), built.message as Buffer);
    this.logger.log(`mail to the outbox: ${message.subject}`);
  }
}
