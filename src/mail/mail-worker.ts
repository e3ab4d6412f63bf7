import {
  type BeforeApplicationShutdown,
  Inject,
  Injectable,
  Logger,
  type OnApplicationBootstrap,
  type OnApplicationShutdown,
} from '@nestjs/common';
import type { ConfigType } from '@nestjs/config';
import { describeCause } from '../common/problems/problem-details.filter.js';
import { mailConfig } from '../config/configuration.js';
import type { MailOutboxRow } from '../database/schema.js';
import { ServerSecrets } from '../secrets/server-secrets.js';
import { retryDelaySeconds } from './backoff.js';
import { MailOutboxRepository } from './mail-outbox.repository.js';
import { MAIL_TRANSPORT, type MailTransport, type OutgoingMail } from './transport.js';

/** The ServerSecrets purpose of sealed outbox messages. */
export const MAIL_OUTBOX_PURPOSE = 'mail-outbox';

/** Rows claimed per statement; a full batch is followed at once by the next. */
const BATCH_SIZE = 20;
/**
 * How long a claimed row is hidden from other claims. Far above a send's worst case (the SMTP
 * transport's own timeouts add up to under a minute), so a slow send is never sent twice; if the
 * instance dies mid-batch, its rows come back after this.
 */
const LEASE_SECONDS = 300;
/** Shutdown waits this long for the batch in flight, then lets the lease bring its rows back. */
const SHUTDOWN_WAIT_MS = 15_000;
/** A kick for a mail queued in a transaction: by then the caller has most likely committed. */
const TRANSACTION_KICK_DELAY_MS = 250;

/**
 * Sends what the outbox holds, on every instance: every MAIL_POLL_INTERVAL and whenever a mail is
 * queued, claim due rows, open, send, delete; failures wait with exponential backoff until
 * MAIL_MAX_ATTEMPTS. Nothing here throws or rejects: an outage is logged and retried on the next tick.
 */
@Injectable()
export class MailWorker implements OnApplicationBootstrap, BeforeApplicationShutdown, OnApplicationShutdown {
  private readonly logger = new Logger('Mail');
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<void> | undefined;
  private again = false;
  private stopped = false;
  private databaseDown = false;

  constructor(
    @Inject(mailConfig.KEY) private readonly config: ConfigType<typeof mailConfig>,
    private readonly outbox: MailOutboxRepository,
    private readonly secrets: ServerSecrets,
    @Inject(MAIL_TRANSPORT) private readonly transport: MailTransport,
  ) {}

  onApplicationBootstrap(): void {
    // Unref'd: it never keeps a process (or a test run) alive on its own.
    this.timer = setInterval(() => this.kick(), this.config.pollSeconds * 1000);
    this.timer.unref();
    // Whatever waited while no instance ran goes now.
    this.kick();
  }

  async beforeApplicationShutdown(): Promise<void> {
    this.stopped = true;
    clearInterval(this.timer);
    // Before the database closes (onApplicationShutdown): the batch in flight records its outcome.
    const running = this.running;
    if (running) {
      let timeout: NodeJS.Timeout | undefined;
      await Promise.race([running, new Promise((resolve) => (timeout = setTimeout(resolve, SHUTDOWN_WAIT_MS)))]);
      clearTimeout(timeout);
    }
  }

  async onApplicationShutdown(): Promise<void> {
    await this.transport.close().catch(() => undefined);
  }

  /** Looks for due mail now (or right after the run in progress). */
  kick(): void {
    if (this.stopped) return;
    if (this.running) {
      this.again = true;
      return;
    }
    this.again = false;
    this.running = this.drain().finally(() => {
      this.running = undefined;
      if (this.again) this.kick();
    });
  }

  /**
   * After a mail was queued. Not synchronously: the caller's insert may belong to a transaction
   * that has not committed yet, and an uncommitted row is invisible to the claim. A kick that
   * finds nothing costs one query; the poll is the safety net either way.
   */
  kickSoon(inTransaction: boolean): void {
    setImmediate(() => this.kick());
    if (inTransaction) setTimeout(() => this.kick(), TRANSACTION_KICK_DELAY_MS).unref();
  }

  private async drain(): Promise<void> {
    while (!this.stopped) {
      let rows: MailOutboxRow[];
      try {
        rows = await this.outbox.claim(
          BATCH_SIZE,
          LEASE_SECONDS,
          this.secrets.for(MAIL_OUTBOX_PURPOSE).keys.map((key) => key.id),
        );
      } catch (error) {
        // Once per outage, not once per tick.
        if (!this.databaseDown) this.logger.warn(`Mail outbox unreachable, retrying every poll: ${describeCause(error)}`);
        this.databaseDown = true;
        return;
      }
      if (this.databaseDown) this.logger.log('Mail outbox reachable again');
      this.databaseDown = false;
      if (rows.length === 0) return;
      await Promise.all(rows.map((row) => this.process(row)));
      if (rows.length < BATCH_SIZE) return;
    }
  }

  private async process(row: MailOutboxRow): Promise<void> {
    const attempts = row.attempts + 1;
    const mail = this.open(row);
    if (!mail) {
      // Claimed under a key of the ring yet unreadable (altered): an attempt, not the end.
      await this.failed(row, attempts, 'the message cannot be opened: sealed under a secret not in SERVER_SECRETS');
      return;
    }
    try {
      await this.transport.deliver(mail, row.id);
    } catch (error) {
      await this.failed(row, attempts, safeMessage(error), describeSmtpError(error));
      return;
    }
    try {
      await this.outbox.delete(row.id);
    } catch (error) {
      this.logger.error(
        `mail ${row.template} ${row.id} was sent but its row could not be deleted (${describeCause(error)}); it may be sent again after the lease`,
      );
    }
  }

  private open(row: MailOutboxRow): OutgoingMail | undefined {
    const plaintext = this.secrets.for(MAIL_OUTBOX_PURPOSE).open(row.sealed, row.id);
    if (plaintext === undefined) return undefined;
    try {
      return JSON.parse(plaintext) as OutgoingMail;
    } catch {
      return undefined;
    }
  }

  private async failed(row: MailOutboxRow, attempts: number, lastError: string, cause = lastError): Promise<void> {
    const max = this.config.maxAttempts;
    try {
      if (attempts >= max) {
        await this.outbox.giveUp(row.id, attempts, lastError);
        this.logger.error(`mail ${row.template} ${row.id} given up after ${attempts} attempts (${cause}); its message is wiped`);
        return;
      }
      const delay = retryDelaySeconds(attempts, this.config.retryBaseSeconds);
      await this.outbox.retryLater(row.id, attempts, delay, lastError);
      this.logger.warn(`mail ${row.template} ${row.id}: attempt ${attempts} of ${max} failed (${cause}); next in ${delay} s`);
    } catch (error) {
      // The row stays claimed; the lease brings it back.
      this.logger.error(`mail ${row.template} ${row.id}: attempt ${attempts} failed and could not be recorded (${describeCause(error)})`);
    }
  }
}

/**
 * An SMTP error's message for `last_error`, with addresses and URLs taken out: servers quote the
 * recipient ("550 <ada@example.com>: mailbox unavailable"), and the row must not keep it.
 */
export function safeMessage(error: unknown): string {
  const message = error instanceof Error ? error.message : String(error);
  return message
    .replace(/[a-z][a-z0-9+.-]*:\/\/\S+/gi, '<url>')
    .replace(/[^\s<>"'()[\]]+@[^\s<>"'()[\]]+/g, '<address>')
    .slice(0, 500);
}

/** For log lines: the kind of failure (name, code, SMTP status), never a message that may quote an address. */
function describeSmtpError(error: unknown): string {
  const { responseCode } = (error ?? {}) as { responseCode?: unknown };
  const base = describeCause(error);
  return typeof responseCode === 'number' ? `${base} ${responseCode}` : base;
}
