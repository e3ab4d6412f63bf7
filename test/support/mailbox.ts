import { once } from 'node:events';
import type { AddressInfo } from 'node:net';
import { type ParsedMail, simpleParser } from 'mailparser';
import { SMTPServer } from 'smtp-server';
import { sleep } from './services.js';

/** One mail as the SMTP server received it, parsed. */
export interface ReceivedMail {
  to: string[];
  from: string;
  subject: string;
  text: string;
  html: string;
  /** The first http(s) link in the text part. */
  link?: string;
  /** The `token` query parameter of that link. */
  token?: string;
  /** When the SMTP server received it (Date.now()). */
  receivedAt: number;
  raw: ParsedMail;
}

/**
 * A real SMTP server in the test process (smtp-server), so every mail test holds an actual SMTP
 * conversation with nodemailer and parses what arrived (mailparser). No TLS, any credentials.
 */
export class TestMailbox {
  readonly mails: ReceivedMail[] = [];
  private server?: SMTPServer;
  private port = 0;

  /** Listens on `port` (0: a free one); a stopped mailbox can start again on the same port. */
  async start(port = this.port): Promise<this> {
    this.server = new SMTPServer({
      authOptional: true,
      disabledCommands: ['STARTTLS'],
      logger: false,
      onAuth: (_auth, _session, callback) => callback(null, { user: 'test' }),
      onData: (stream, session, callback) => {
        simpleParser(stream)
          .then((parsed) => {
            this.mails.push(
              toReceived(
                parsed,
                session.envelope.rcptTo.map((r) => r.address),
              ),
            );
            callback();
          })
          .catch((error: Error) => callback(error));
      },
    });
    this.server.listen(port, '127.0.0.1');
    await once(this.server.server, 'listening');
    this.port = (this.server.server.address() as AddressInfo).port;
    return this;
  }

  get url(): string {
    return `smtp://127.0.0.1:${this.port}`;
  }

  async stop(): Promise<void> {
    const server = this.server;
    this.server = undefined;
    if (server) await new Promise<void>((resolve) => server.close(() => resolve()));
  }

  /** The mails to `address` so far (lower-cased compare). */
  to(address: string): ReceivedMail[] {
    return this.mails.filter((m) => m.to.includes(address.toLowerCase()));
  }

  /** Waits (up to `timeoutMs`) for the `count`-th mail to `address` matching `subject`, and returns it. */
  async waitFor(address: string, subject?: RegExp, { count = 1, timeoutMs = 10_000 } = {}): Promise<ReceivedMail> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const matching = this.to(address).filter((m) => !subject || subject.test(m.subject));
      if (matching.length >= count) return matching[count - 1];
      if (Date.now() > deadline) {
        const seen = this.mails.map((m) => `${m.to.join(',')}: ${m.subject}`).join('; ') || 'none';
        throw new Error(`no mail ${subject ?? ''} #${count} to ${address} within ${timeoutMs} ms (seen: ${seen})`);
      }
      await sleep(25);
    }
  }
}

function toReceived(parsed: ParsedMail, envelopeTo: string[]): ReceivedMail {
  const text = parsed.text ?? '';
  const link = /https?:\/\/\S+/.exec(text)?.[0];
  const token = link ? (new URL(link).searchParams.get('token') ?? undefined) : undefined;
  const from = parsed.from?.value[0]?.address ?? '';
  return {
    to: envelopeTo.map((a) => a.toLowerCase()),
    from,
    subject: parsed.subject ?? '',
    text,
    html: typeof parsed.html === 'string' ? parsed.html : '',
    link,
    token,
    receivedAt: Date.now(),
    raw: parsed,
  };
}
