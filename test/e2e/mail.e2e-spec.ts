import { afterEach, beforeEach, describe, expect, test } from '@jest/globals';
import { randomBytes, randomUUID } from 'node:crypto';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { simpleParser } from 'mailparser';
import { DATABASE, type Database } from '../../src/database/database.js';
import { mailOutbox, type MailOutboxRow } from '../../src/database/schema.js';
import type { MailRequest } from '../../src/mail/mail.js';
import { MailService } from '../../src/mail/mail.service.js';
import { ServerSecrets } from '../../src/secrets/server-secrets.js';
import { startApp, type TestApp, uniqueEmail } from '../support/app.js';
import { TestMailbox } from '../support/mailbox.js';
import { freePort, freshDatabase, sleep } from '../support/services.js';

/** Polls `check` until it returns something truthy; generous, so a slow machine only waits longer. */
async function until<T>(check: () => Promise<T | undefined | false>, what: string, timeoutMs = 60_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await check();
    if (value) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(50);
  }
}

const rows = (t: TestApp): Promise<MailOutboxRow[]> => t.app.get<Database>(DATABASE).select().from(mailOutbox);

function verifyMail(to = uniqueEmail('mail')): MailRequest & { token: string; link: string } {
  const token = randomBytes(24).toString('base64url');
  const link = `https://app.example.com/verify-email?token=${token}`;
  return { to, template: 'verify-email', variables: { link, expiresIn: '24 hours' }, token, link };
}

/** A mailbox that was listening and is not any more: its port refuses connections until it starts again. */
async function stoppedMailbox(): Promise<TestMailbox> {
  const mailbox = await new TestMailbox().start();
  await mailbox.stop();
  return mailbox;
}

describe('mail outbox', () => {
  let database: Awaited<ReturnType<typeof freshDatabase>>;
  const apps: TestApp[] = [];
  const mailboxes: TestMailbox[] = [];

  // A database of its own per test (on PostgreSQL; PGlite apps have their own anyway): assertions
  // read the whole outbox, and another suite's rows (sealed under other secrets) must not be in it.
  beforeEach(async () => {
    database = await freshDatabase();
  });
  afterEach(async () => {
    for (const t of apps.splice(0)) await t.close();
    for (const mailbox of mailboxes.splice(0)) await mailbox.stop();
    await database.drop();
  });

  async function app(env: Record<string, string | undefined>): Promise<TestApp> {
    const t = await startApp({
      DATABASE_URL: database.url,
      MAIL_PRODUCT_NAME: 'Acme ID',
      MAIL_FROM: 'Acme ID <accounts@acme.test>',
      MAIL_RETRY_BASE: '1s',
      MAIL_POLL_INTERVAL: '1s',
      ...env,
    });
    apps.push(t);
    return t;
  }

  async function mailbox(): Promise<TestMailbox> {
    const box = await new TestMailbox().start();
    mailboxes.push(box);
    return box;
  }

  test('a queued mail arrives over SMTP: text and HTML parts, the product name, the link, from and to', async () => {
    const box = await mailbox();
    const t = await app({ SMTP_URL: box.url });
    const mail = verifyMail();
    await t.app.get(MailService).send(mail);

    const received = await box.waitFor(mail.to, /Acme ID/, { timeoutMs: 60_000 });
    expect(received.from).toBe('accounts@acme.test');
    expect(received.to).toEqual([mail.to]);
    expect(received.subject).toBe('Verify your email address for Acme ID');
    expect(received.text).toContain('Acme ID');
    expect(received.link).toBe(mail.link);
    expect(received.token).toBe(mail.token);
    expect(received.html).toContain(`href="${mail.link}"`);
    expect(received.html).toContain('Acme ID');
    expect(received.html).toContain(mail.to);
    // Sent means deleted: the link does not rest anywhere.
    await until(async () => (await rows(t)).length === 0, 'the row to be deleted');
  });

  test('SMTP down: send() still succeeds, the row waits sealed, and the mail arrives when SMTP is back', async () => {
    const box = await stoppedMailbox();
    mailboxes.push(box);
    const t = await app({ SMTP_URL: box.url });
    const mail = verifyMail();
    await t.app.get(MailService).send(mail);

    const [failed] = await until(async () => {
      const found = await rows(t);
      return found.length === 1 && found[0].attempts >= 1 && found;
    }, 'a failed attempt');
    expect(failed.template).toBe('verify-email');
    expect(failed.lastError).toBeTruthy();
    expect(failed.failedAt).toBeNull();
    expect(failed.nextAttemptAt.getTime()).toBeGreaterThan(Date.now() - 5_000);
    // Nothing of the message in the clear: not the link, the token, the address, nor the wording.
    const stored = JSON.stringify(failed);
    for (const secret of [mail.link, mail.token, mail.to, mail.to.split('@')[0], 'Acme ID', 'Verify']) expect(stored).not.toContain(secret);
    expect(failed.sealed).toMatch(/^[A-Za-z0-9_-]{6}\.[A-Za-z0-9_-]+$/);

    await box.start();
    const received = await box.waitFor(mail.to, /Acme ID/, { timeoutMs: 60_000 });
    expect(received.token).toBe(mail.token);
    await until(async () => (await rows(t)).length === 0, 'the row to be deleted');
  });

  test('nothing is lost on restart: a mail queued while SMTP is down arrives from the next instance', async () => {
    const box = await stoppedMailbox();
    mailboxes.push(box);
    const dataDir = mkdtempSync(join(tmpdir(), 'tessera-mail-restart-'));
    try {
      // The same DATA_DIR: the same PGlite database (or DATABASE_URL's) and the same development server secret.
      const first = await startApp({ DATABASE_URL: database.url, DATA_DIR: dataDir, SMTP_URL: box.url, MAIL_POLL_INTERVAL: '1s' });
      const mail = verifyMail();
      await first.app.get(MailService).send(mail);
      await first.close();

      await box.start();
      const second = await startApp({ DATABASE_URL: database.url, DATA_DIR: dataDir, SMTP_URL: box.url, MAIL_POLL_INTERVAL: '1s' });
      apps.push(second);
      const received = await box.waitFor(mail.to, /Tessera/, { timeoutMs: 60_000 });
      expect(received.token).toBe(mail.token);
    } finally {
      for (const t of apps.splice(0)) await t.close();
      rmSync(dataDir, { recursive: true, force: true });
    }
  });

  test('gives up after MAIL_MAX_ATTEMPTS: failed_at set, the message wiped', async () => {
    const t = await app({ SMTP_URL: `smtp://127.0.0.1:${await freePort()}`, MAIL_MAX_ATTEMPTS: '2' });
    const mail = verifyMail();
    await t.app.get(MailService).send(mail);

    const [row] = await until(async () => {
      const found = await rows(t);
      return found.length === 1 && found[0].failedAt !== null && found;
    }, 'the mail to be given up');
    expect(row.attempts).toBe(2);
    expect(row.sealed).toBe('');
    expect(row.lastError).toBeTruthy();
    expect(row.lastError).not.toContain(mail.to);
    // Given up stays given up: no further attempt is counted.
    await sleep(2_500);
    expect((await rows(t))[0].attempts).toBe(2);
  });

  test('an instance leaves alone the mail of instances with other SERVER_SECRETS (one database, several deployments)', async () => {
    const box = await mailbox();
    const ours = randomBytes(32).toString('hex');
    const t = await app({ SMTP_URL: box.url, SERVER_SECRETS: ours });
    // A row queued by a deployment whose secrets this one does not hold (or by an old secret since dropped).
    const foreign = new ServerSecrets([randomBytes(32)]).for('mail-outbox');
    const id = randomUUID();
    await t.app
      .get<Database>(DATABASE)
      .insert(mailOutbox)
      .values({ id, template: 'verify-email', sealed: foreign.seal(JSON.stringify({ to: 'x@example.com' }), id) });
    // Several polls later a mail of its own has gone out, and the foreign row is untouched: not
    // counted as failed attempts that would end with its message wiped.
    await sleep(2500);
    const own = verifyMail();
    await t.app.get(MailService).send(own);
    await box.waitFor(own.to);
    const [row] = (await rows(t)).filter((r) => r.id === id);
    expect({ attempts: row.attempts, failedAt: row.failedAt, lastError: row.lastError }).toEqual({
      attempts: 0,
      failedAt: null,
      lastError: null,
    });
  });

  test('a mail queued in a transaction that rolls back is never sent; one that commits is', async () => {
    const box = await mailbox();
    const t = await app({ SMTP_URL: box.url });
    const service = t.app.get(MailService);
    const db = t.app.get<Database>(DATABASE);
    const rolledBack = verifyMail();
    const committed = verifyMail();
    await db
      .transaction(async (tx) => {
        await service.send(rolledBack, tx);
        throw new Error('the caller failed');
      })
      .catch(() => undefined);
    await db.transaction(async (tx) => {
      await service.send(committed, tx);
    });

    await box.waitFor(committed.to, /Tessera|Acme/, { timeoutMs: 60_000 });
    await until(async () => (await rows(t)).length === 0, 'the outbox to be empty');
    expect(box.to(rolledBack.to)).toEqual([]);
  });

  test('without SMTP_URL each mail is an .eml file under DATA_DIR/outbox/ with its subject and link', async () => {
    const t = await app({ SMTP_URL: undefined });
    const mail = verifyMail();
    await t.app.get(MailService).send(mail);

    const dir = join(t.dataDir, 'outbox');
    const [file] = await until(async () => {
      const files = (() => {
        try {
          return readdirSync(dir).filter((name) => name.endsWith('.eml'));
        } catch {
          return [];
        }
      })();
      return files.length > 0 && files;
    }, 'an .eml file');
    expect(file).toMatch(/^\d{4}-\d{2}-\d{2}T\d{2}-\d{2}-\d{2}-\d{3}Z-[0-9a-f-]{36}\.eml$/);
    const parsed = await simpleParser(readFileSync(join(dir, file)));
    expect(parsed.subject).toBe('Verify your email address for Acme ID');
    expect(parsed.text).toContain(mail.link);
    expect(typeof parsed.html === 'string' && parsed.html).toContain(`href="${mail.link}"`);
    await until(async () => (await rows(t)).length === 0, 'the row to be deleted');
  });
});
