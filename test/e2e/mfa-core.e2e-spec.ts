import { afterAll, afterEach, beforeAll, describe, expect, jest, test } from '@jest/globals';
import { sql } from 'drizzle-orm';
import { Secret, TOTP } from 'otpauth';
import { MfaClock } from '../../src/auth/mfa/mfa-clock.js';
import { RecoveryCodesService } from '../../src/auth/mfa/recovery-codes.service.js';
import { TotpService } from '../../src/auth/mfa/totp.service.js';
import { DATABASE, type Database } from '../../src/database/database.js';
import { PASSWORD, startApp, type TestApp, uniqueEmail } from '../support/app.js';

/*
 * The second-factor core (auth/mfa/) on the real app and database, below the HTTP layer: the
 * services the login and step-up routes will call. Codes are computed with otpauth from the secret
 * enrolment returned, as an authenticator app would.
 *
 * Time: tests about the ±1-step window stand the service's clock (MfaClock) in the middle of a
 * chosen step, so no 30-s boundary can move a code in or out of the window while a test runs. The
 * first test uses the real clock end to end and waits, if needed, until a boundary is at least 5 s
 * away.
 */
const STEP_MS = 30_000;
const totpOf = (secret: string) => new TOTP({ secret: Secret.fromBase32(secret) });
/** The code of `step` (a count of 30-s periods since the epoch). */
const codeAt = (secret: string, step: number) => totpOf(secret).generate({ timestamp: step * STEP_MS });
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
/** The rows of a raw query (node-postgres and PGlite both answer `{ rows }`). */
const rowsOf = <T>(result: unknown): T[] => (result as { rows: T[] }).rows;
/** Waits out the end of the current step when it ends in less than 5 s. */
async function awayFromBoundary(): Promise<void> {
  const left = TOTP.remaining();
  if (left < 5_000) await sleep(left + 100);
}
/** A six-digit code different from the codes of `steps` (so it is wrong whatever the window). */
function wrongCode(secret: string, steps: number[]): string {
  const taken = new Set(steps.map((s) => codeAt(secret, s)));
  for (let n = 0; ; n++) {
    const candidate = String(n * 111_111 + 7)
      .padStart(6, '0')
      .slice(-6);
    if (!taken.has(candidate)) return candidate;
  }
}

describe('second factors: TOTP and recovery codes (services)', () => {
  let t: TestApp;
  let totp: TotpService;
  let recovery: RecoveryCodesService;
  let clock: MfaClock;
  let db: Database;
  /** Now's step: tests with a fixed clock count from here (any step would do). */
  const S = Math.floor(Date.now() / STEP_MS);

  beforeAll(async () => {
    t = await startApp();
    totp = t.app.get(TotpService);
    recovery = t.app.get(RecoveryCodesService);
    clock = t.app.get(MfaClock);
    db = t.app.get<Database>(DATABASE);
  });
  afterAll(async () => {
    await t?.close();
  });
  afterEach(() => {
    jest.restoreAllMocks();
  });

  /** Stands the service's clock in the middle of `step`. */
  const at = (step: number) => jest.spyOn(clock, 'now').mockReturnValue(step * STEP_MS + STEP_MS / 2);

  async function registeredUser(): Promise<{ userId: string; email: string }> {
    const email = uniqueEmail('mfa');
    const res = await t.http().post('/auth/register').send({ email, password: PASSWORD }).expect(201);
    return { userId: res.body.id as string, email };
  }

  /** A user with a confirmed factor, confirmed with the code of `step` on a clock at `step`. */
  async function enabledUser(step = S) {
    const user = await registeredUser();
    const { secret } = await totp.enrol(user.userId, user.email);
    at(step);
    const { recoveryCodes } = await totp.confirm(user.userId, codeAt(secret, step));
    jest.restoreAllMocks();
    return { ...user, secret, recoveryCodes };
  }

  test('enrol, confirm and verify on the real clock; a pending factor verifies nothing', async () => {
    const { userId, email } = await registeredUser();
    const enrolment = await totp.enrol(userId, email);
    expect(enrolment.secret).toMatch(/^[A-Z2-7]{32}$/);
    const uri = new URL(enrolment.otpauthUri);
    expect(uri.protocol).toBe('otpauth:');
    expect(decodeURIComponent(uri.pathname)).toBe(`/Tessera:${email}`);
    expect(uri.searchParams.get('secret')).toBe(enrolment.secret);
    expect(uri.searchParams.get('issuer')).toBe('Tessera');
    expect(await totp.isEnabled(userId)).toBe(false);

    await awayFromBoundary();
    const app = totpOf(enrolment.secret);
    const now = Math.floor(Date.now() / STEP_MS);
    // Pending: even the right code is no second factor yet.
    expect(await totp.verify(userId, app.generate())).toBe(false);
    // (now + 2 too: a boundary crossed meanwhile moves the window one step on, no further.)
    await expect(totp.confirm(userId, wrongCode(enrolment.secret, [now - 1, now, now + 1, now + 2]))).rejects.toMatchObject({
      code: 'mfa_code_invalid',
    });
    await expect(totp.confirm(userId, 'nope')).rejects.toMatchObject({ code: 'mfa_code_invalid' });
    expect(await totp.isEnabled(userId)).toBe(false);

    const confirming = codeAt(enrolment.secret, now);
    const { recoveryCodes } = await totp.confirm(userId, confirming);
    expect(recoveryCodes).toHaveLength(10);
    expect(await totp.isEnabled(userId)).toBe(true);

    // The confirming code was used; the app's next code (one step ahead, inside the window, or the
    // current one if a boundary has passed) works once.
    expect(await totp.verify(userId, confirming)).toBe(false);
    const next = codeAt(enrolment.secret, now + 1);
    expect(await totp.verify(userId, next)).toBe(true);
    expect(await totp.verify(userId, next)).toBe(false);

    // A confirmed factor is not replaced by enrolling, nor confirmed twice.
    await expect(totp.enrol(userId, email)).rejects.toMatchObject({ code: 'mfa_already_enabled' });
    await expect(totp.confirm(userId, app.generate())).rejects.toMatchObject({ code: 'mfa_already_enabled' });
  });

  test('confirming needs an enrolment; a new enrolment replaces the pending secret', async () => {
    const { userId, email } = await registeredUser();
    await expect(totp.confirm(userId, '123456')).rejects.toMatchObject({ code: 'mfa_not_enrolling' });
    const first = await totp.enrol(userId, email);
    const second = await totp.enrol(userId, email);
    expect(second.secret).not.toBe(first.secret);
    at(S);
    // Only the newest secret confirms (skipped in the one-in-a-million case where both codes agree).
    if (codeAt(first.secret, S) !== codeAt(second.secret, S)) {
      await expect(totp.confirm(userId, codeAt(first.secret, S))).rejects.toMatchObject({ code: 'mfa_code_invalid' });
    }
    expect((await totp.confirm(userId, codeAt(second.secret, S))).recoveryCodes).toHaveLength(10);
  });

  test('the window is one step either side; each code works once; older codes are refused', async () => {
    const { userId, secret } = await enabledUser(S);
    at(S + 10);
    const code = (delta: number) => codeAt(secret, S + 10 + delta);
    const distinct = (delta: number) => [-1, 0, 1].every((d) => codeAt(secret, S + 10 + d) !== code(delta));

    // Two steps away, behind or ahead: refused (unless it happens to equal a code in the window).
    for (const delta of [-2, 2]) if (distinct(delta)) expect(await totp.verify(userId, code(delta))).toBe(false);
    expect(await totp.verify(userId, wrongCode(secret, [S + 9, S + 10, S + 11]))).toBe(false);
    expect(await totp.verify(userId, '12345')).toBe(false);

    // The previous step is accepted, once.
    expect(await totp.verify(userId, code(-1))).toBe(true);
    expect(await totp.verify(userId, code(-1))).toBe(false);
    // The next step (a phone clock running fast) too; after it, the current step's code is older
    // than the newest accepted, so it is refused although it was never used.
    expect(await totp.verify(userId, code(1))).toBe(true);
    expect(await totp.verify(userId, code(0))).toBe(false);
    expect(await totp.verify(userId, code(1))).toBe(false);

    // Time moves on: the next step's code works, with spaces as some apps show it.
    at(S + 12);
    const later = codeAt(secret, S + 12);
    expect(await totp.verify(userId, `${later.slice(0, 3)} ${later.slice(3)}`)).toBe(true);
    expect(await totp.verify(userId, later)).toBe(false);
  });

  test('parallel verifications of one code: exactly one is accepted', async () => {
    const { userId, secret } = await enabledUser(S);
    at(S + 2);
    const results = await Promise.all(Array.from({ length: 10 }, () => totp.verify(userId, codeAt(secret, S + 2))));
    expect(results.filter(Boolean)).toHaveLength(1);
  });

  test('recovery codes: ten, unique, each works once, normalised input, per user', async () => {
    const a = await enabledUser();
    const b = await enabledUser();
    expect(a.recoveryCodes).toHaveLength(10);
    expect(new Set(a.recoveryCodes).size).toBe(10);
    for (const code of a.recoveryCodes) expect(code).toMatch(/^[0-9A-HJKMNP-TV-Z]{4}(-[0-9A-HJKMNP-TV-Z]{4}){2}$/);
    expect(await recovery.remainingRecoveryCodes(a.userId)).toBe(10);

    expect(await recovery.useRecoveryCode(a.userId, a.recoveryCodes[0])).toBe(true);
    expect(await recovery.useRecoveryCode(a.userId, a.recoveryCodes[0])).toBe(false);
    // Lower case, spaces for dashes.
    expect(await recovery.useRecoveryCode(a.userId, a.recoveryCodes[1].toLowerCase().replace(/-/g, ' '))).toBe(true);
    // Another user's code, a malformed one.
    expect(await recovery.useRecoveryCode(a.userId, b.recoveryCodes[0])).toBe(false);
    expect(await recovery.useRecoveryCode(a.userId, 'not-a-code')).toBe(false);
    expect(await recovery.remainingRecoveryCodes(a.userId)).toBe(8);
    expect(await recovery.remainingRecoveryCodes(b.userId)).toBe(10);

    // Ten racing uses of one code: exactly one wins.
    const raced = await Promise.all(Array.from({ length: 10 }, () => recovery.useRecoveryCode(a.userId, a.recoveryCodes[2])));
    expect(raced.filter(Boolean)).toHaveLength(1);
    expect(await recovery.remainingRecoveryCodes(a.userId)).toBe(7);
  });

  test('regenerating replaces the whole set; it needs a confirmed factor', async () => {
    const a = await enabledUser();
    const fresh = await recovery.regenerateRecoveryCodes(a.userId);
    expect(fresh).toHaveLength(10);
    expect(fresh.filter((c) => a.recoveryCodes.includes(c))).toEqual([]);
    for (const old of a.recoveryCodes) expect(await recovery.useRecoveryCode(a.userId, old)).toBe(false);
    expect(await recovery.useRecoveryCode(a.userId, fresh[9])).toBe(true);
    expect(await recovery.remainingRecoveryCodes(a.userId)).toBe(9);

    const pending = await registeredUser();
    await expect(recovery.regenerateRecoveryCodes(pending.userId)).rejects.toMatchObject({ code: 'mfa_not_enabled' });
    await totp.enrol(pending.userId, pending.email);
    await expect(recovery.regenerateRecoveryCodes(pending.userId)).rejects.toMatchObject({ code: 'mfa_not_enabled' });
    expect(await recovery.remainingRecoveryCodes(pending.userId)).toBe(0);
  });

  test('removing the factor removes its codes; the user can enrol again', async () => {
    const a = await enabledUser(S);
    expect(await totp.disable(a.userId)).toBe(true);
    expect(await totp.isEnabled(a.userId)).toBe(false);
    expect(await recovery.remainingRecoveryCodes(a.userId)).toBe(0);
    expect(await recovery.useRecoveryCode(a.userId, a.recoveryCodes[0])).toBe(false);
    at(S + 1);
    expect(await totp.verify(a.userId, codeAt(a.secret, S + 1))).toBe(false);
    expect(await totp.disable(a.userId)).toBe(false);
    const again = await totp.enrol(a.userId, a.email);
    expect(again.secret).not.toBe(a.secret);
  });

  test('the database holds no TOTP secret and no recovery code in the clear', async () => {
    const a = await enabledUser();
    const fresh = await recovery.regenerateRecoveryCodes(a.userId);
    const pending = await registeredUser();
    const pendingSecret = (await totp.enrol(pending.userId, pending.email)).secret;

    // Every row that names either user, in every table with a user_id column, and the users rows.
    const tables = await db.execute(
      sql`SELECT table_name FROM information_schema.columns WHERE table_schema = 'public' AND column_name = 'user_id'`,
    );
    const tableNames = rowsOf<{ table_name: string }>(tables).map((r) => r.table_name);
    expect(tableNames).toEqual(expect.arrayContaining(['totp_factors', 'recovery_codes']));
    let dump = '';
    for (const table of [...tableNames, 'users']) {
      const column = table === 'users' ? 'id' : 'user_id';
      const result = await db.execute(
        sql`SELECT to_jsonb(x)::text AS row FROM ${sql.identifier(table)} x WHERE ${sql.identifier(column)} IN (${a.userId}, ${pending.userId})`,
      );
      dump += rowsOf<{ row: string }>(result)
        .map((r) => `${r.row}\n`)
        .join('');
    }
    expect(dump).toContain(a.userId);
    expect(dump).toMatch(/"code_hash"/);

    const forms = (secret: string) => {
      const bytes = Buffer.from(Secret.fromBase32(secret).bytes);
      return [secret, secret.toLowerCase(), bytes.toString('hex'), bytes.toString('base64'), bytes.toString('base64url')];
    };
    for (const form of [...forms(a.secret), ...forms(pendingSecret)]) expect(dump).not.toContain(form);
    for (const code of [...a.recoveryCodes, ...fresh]) {
      expect(dump).not.toContain(code);
      expect(dump).not.toContain(code.replace(/-/g, ''));
    }
  });
});
