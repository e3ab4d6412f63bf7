import { Logger } from '@nestjs/common';
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import nodemailer, { type Transporter } from 'nodemailer';

/** A whole message as the outbox stores it (sealed) and a transport sends it. */
export interface OutgoingMail {
  from: string;
  to: string;
  subject: string;
  text: string;
  html: string;
}

/** How mail leaves this instance: SMTP, or the development outbox folder. */
export interface MailTransport {
  /** Resolves once the message was accepted; rejects with the reason otherwise. `id` names the outbox row. */
  deliver(mail: OutgoingMail, id: string): Promise<void>;
  close(): Promise<void>;
}

export const MAIL_TRANSPORT = Symbol('MAIL_TRANSPORT');

/**
 * One pooled nodemailer SMTP transport for the process. Timeouts far below nodemailer's defaults
 * (2 min to connect, 10 min idle socket): a hung server must not hold a claimed batch for longer
 * than the claim's lease.
 */
export class SmtpTransport implements MailTransport {
  private readonly transporter: Transporter;

  constructor(url: string) {
    this.transporter = nodemailer.createTransport({
      url,
      pool: true,
      maxConnections: 3,
      connectionTimeout: 10_000,
      greetingTimeout: 10_000,
      socketTimeout: 30_000,
    });
  }

  async deliver(mail: OutgoingMail): Promise<void> {
    await this.transporter.sendMail(mail);
  }

  close(): Promise<void> {
    this.transporter.close();
    return Promise.resolve();
  }
}

/**
 * Development without SMTP_URL: each message becomes an `.eml` file under `dir` (open it in any
 * mail program), named by time so `ls` lists them in order. Only the subject is logged: the body
 * carries the link, which is as good as a password until it is used.
 */
export class FileOutboxTransport implements MailTransport {
  private readonly logger = new Logger('Mail');
  private readonly builder = nodemailer.createTransport({ streamTransport: true, buffer: true });

  constructor(readonly dir: string) {}

  async deliver(mail: OutgoingMail, id: string): Promise<void> {
    const built = await this.builder.sendMail(mail);
    await mkdir(this.dir, { recursive: true, mode: 0o700 });
    const path = join(this.dir, `${new Date().toISOString().replace(/[:.]/g, '-')}-${id}.eml`);
    await writeFile(path, built.message as Buffer, { mode: 0o600 });
    this.logger.log(`mail written to ${path}: ${mail.subject}`);
  }

  close(): Promise<void> {
    return Promise.resolve();
  }
}
