import { afterAll, beforeAll, describe, expect, test } from '@jest/globals';
import { type ChildProcess, spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Secret, TOTP } from 'otpauth';
import { TestMailbox } from '../support/mailbox.js';
import { SoftwareAuthenticator } from '../support/software-authenticator.js';
import { CuttableProxy, freePort, sleep } from '../support/services.js';

/*
 * The built server (dist/main.js, as production runs it) at LOG_LEVEL=debug, its stdout and
 * stderr captured: pino writes to file descriptor 1 directly, so a spy on process.stdout.write in
 * this process would see nothing.
 */
const MAIN = join(process.cwd(), 'dist', 'main.js');
const PASSWORD = 'correct horse battery staple';

class Server {
  output = '';
  private constructor(
    private readonly child: ChildProcess,
    readonly origin: string,
  ) {}

  static async start(env: Record<string, string | undefined>): Promise<Server> {
    if (!existsSync(MAIN)) throw new Error('dist/main.js is missing: run `npm run build` first (npm test does)');
    const port = await freePort();
    const child = spawn(process.execPath, [MAIN], {
      env: {
        PATH: process.env.PATH,
        HOST: '127.0.0.1',
        PORT: String(port),
        LOG_LEVEL: 'debug',
        THROTTLE_LOGIN_LIMIT: '1000',
        THROTTLE_LIMIT: '1000',
        THROTTLE_REGISTER_LIMIT: '1000',
        THROTTLE_MAIL_LIMIT: '1000',
        ...env,
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const server = new Server(child, `http://127.0.0.1:${port}`);
    child.stdout.on('data', (chunk: Buffer) => (server.output += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (server.output += chunk.toString()));
    for (let i = 0; i < 300 && !server.output.includes('Tessera listening'); i++) {
      if (child.exitCode !== null) throw new Error(`the server exited: ${server.output.slice(-2000)}`);
      await sleep(100);
    }
    if (!server.output.includes('Tessera listening')) throw new Error(`the server did not start: ${server.output.slice(-2000)}`);
    return server;
  }

  fetch(path: string, init: RequestInit = {}): Promise<Response> {
    return fetch(`${this.origin}${path}`, init);
  }

  async stop(): Promise<void> {
    if (this.child.exitCode !== null) return;
    this.child.kill('SIGTERM');
    await Promise.race([new Promise((resolve) => this.child.once('exit', resolve)), sleep(10_000)]);
    if (this.child.exitCode === null) this.child.kill('SIGKILL');
  }
}

const post = (body: unknown): RequestInit => ({
  method: 'POST',
  headers: { 'Content-Type': 'application/json' },
  body: JSON.stringify(body),
});

/** The secret in every form it could be logged in: as is, URL-encoded, JSON-escaped. */
function expectAbsent(output: string, secrets: string[]): void {
  for (const secret of secrets) {
    for (const form of new Set([secret, encodeURIComponent(secret), JSON.stringify(secret).slice(1, -1)])) {
      expect({ form, found: output.includes(form) }).toEqual({ form, found: false });
    }
  }
}

/**
 * Sends one last request to a unique path and waits until its log line is out (up to 15 s; a
 * loaded machine may be slow): the server logs in order, so every earlier line is out too, and an
 * absence check means something. A fixed pause would not.
 */
async function untilLogged(server: Server): Promise<void> {
  const marker = `/log-marker-${randomUUID()}`;
  await server.fetch(marker);
  for (let waited = 0; waited < 15_000 && !server.output.includes(marker); waited += 100) await sleep(100);
  expect(server.output).toContain(marker);
}

describe('debug logs never carry query parameters', () => {
  let server: Server;
  const mailbox = new TestMailbox();
  const dataDir = mkdtempSync(join(tmpdir(), 'tessera-logs-'));
  const adminEmail = `boot-leak-${randomUUID()}@example.com`;
  beforeAll(async () => {
    await mailbox.start();
    server = await Server.start({
      SMTP_URL: mailbox.url,
      MAIL_POLL_INTERVAL: '1s',
      DATA_DIR: dataDir,
      REDIS_URL: process.env.REDIS_URL,
      DATABASE_URL: process.env.DATABASE_URL,
      BOOTSTRAP_ADMIN_EMAIL: adminEmail,
      BOOTSTRAP_ADMIN_PASSWORD: PASSWORD,
    });
  });
  afterAll(async () => {
    await server?.stop();
    await mailbox.stop();
    rmSync(dataDir, { recursive: true, force: true });
  });

  test('the account lifecycle (verify, forgot, reset, email change) logs no link token, address or password', async () => {
    const email = `lifecycle-leak-${randomUUID()}@example.com`;
    const newEmail = `lifecycle-moved-${randomUUID()}@example.com`;
    const newPassword = `violet kettle ${randomUUID()}`;
    expect((await server.fetch('/auth/register', post({ email, password: PASSWORD }))).status).toBe(201);
    const verify = await mailbox.waitFor(email, /^Verify/);
    expect((await server.fetch('/auth/email/verify', post({ token: verify.token }))).status).toBe(204);
    expect((await server.fetch('/auth/password/forgot', post({ email }))).status).toBe(202);
    const reset = await mailbox.waitFor(email, /^Reset/);
    expect((await server.fetch('/auth/password/reset', post({ token: reset.token, newPassword: 'my tessera password' }))).status).toBe(400);
    expect((await server.fetch('/auth/password/reset', post({ token: reset.token, newPassword }))).status).toBe(204);
    const login = await server.fetch('/auth/login', post({ email, password: newPassword }));
    const { accessToken } = (await login.json()) as { accessToken: string };
    const change = await server.fetch('/auth/email/change', {
      ...post({ newEmail, currentPassword: newPassword }),
      headers: { 'Content-Type': 'application/json', Authorization: `Bearer ${accessToken}` },
    });
    expect(change.status).toBe(202);
    const confirm = await mailbox.waitFor(newEmail, /^Confirm/);
    expect((await server.fetch('/auth/email/verify', post({ token: confirm.token }))).status).toBe(204);
    await untilLogged(server);
    expect(server.output).toMatch(/email\/verify/);
    expectAbsent(server.output, [
      verify.token!,
      reset.token!,
      confirm.token!,
      email,
      newEmail,
      newPassword,
      'my tessera password',
      accessToken,
    ]);
  });

  test('passkeys (register, log in, a refused replay, reauthenticate) log no challenge, signature, token or address', async () => {
    const email = `passkey-leak-${randomUUID()}@example.com`;
    expect((await server.fetch('/auth/register', post({ email, password: PASSWORD }))).status).toBe(201);
    const login = (await (await server.fetch('/auth/login', post({ email, password: PASSWORD }))).json()) as { accessToken: string };
    const authed = (body: unknown): RequestInit => ({
      ...post(body),
      headers: { 'Content-Type': 'application/json', Authorization: `Bearer ${login.accessToken}` },
    });
    const json = async (response: Response) => (await response.json()) as Record<string, unknown>;
    const authenticator = new SoftwareAuthenticator(server.origin);
    const creation = await json(await server.fetch('/auth/passkeys/registration/options', authed({})));
    const registration = authenticator.register(creation);
    expect((await server.fetch('/auth/passkeys', authed({ response: registration }))).status).toBe(201);
    const request = await json(await server.fetch('/auth/passkeys/login/options', post({})));
    const assertion = authenticator.assert(request);
    const passkeyLogin = await server.fetch('/auth/passkeys/login', post({ response: assertion }));
    expect(passkeyLogin.status).toBe(200);
    const { accessToken } = await json(passkeyLogin);
    expect((await server.fetch('/auth/passkeys/login', post({ response: assertion }))).status).toBe(401);
    const reauth = await json(await server.fetch('/auth/reauthenticate/options', authed({})));
    const reassertion = authenticator.assert(reauth);
    expect((await server.fetch('/auth/reauthenticate', authed({ response: reassertion }))).status).toBe(200);
    await untilLogged(server);
    expect(server.output).toMatch(/passkeys\/login/);
    const inner = (credential: Record<string, unknown>) => Object.values(credential.response as Record<string, string>);
    expectAbsent(server.output, [
      email,
      login.accessToken,
      accessToken as string,
      ...[creation, request, reauth].map((options) => options.challenge as string),
      ...[registration, assertion, reassertion].flatMap(inner).filter((value) => typeof value === 'string' && value.length > 8),
    ]);
  });

  test('second factors: no TOTP secret, otpauth URI, recovery code or mfaToken is logged', async () => {
    const email = `mfa-leak-${randomUUID()}@example.com`;
    expect((await server.fetch('/auth/register', post({ email, password: PASSWORD }))).status).toBe(201);
    const { accessToken } = (await (await server.fetch('/auth/login', post({ email, password: PASSWORD }))).json()) as {
      accessToken: string;
    };
    const authorized = (body: unknown): RequestInit => ({
      ...post(body),
      headers: { 'Content-Type': 'application/json', Authorization: `Bearer ${accessToken}` },
    });
    const enrolment = (await (await server.fetch('/auth/mfa/totp', authorized({}))).json()) as { secret: string; otpauthUri: string };
    // The real clock: wait out a step about to end, so the code is still in the window when it arrives.
    if (TOTP.remaining() < 5_000) await sleep(TOTP.remaining() + 100);
    const code = new TOTP({ secret: Secret.fromBase32(enrolment.secret) }).generate();
    const confirmed = await server.fetch('/auth/mfa/totp/confirm', authorized({ code }));
    expect(confirmed.status).toBe(200);
    const { recoveryCodes } = (await confirmed.json()) as { recoveryCodes: string[] };
    const first = (await (await server.fetch('/auth/login', post({ email, password: PASSWORD }))).json()) as { mfaToken: string };
    expect((await server.fetch('/auth/login/mfa', post({ mfaToken: first.mfaToken, recoveryCode: recoveryCodes[0] }))).status).toBe(200);
    const second = (await (await server.fetch('/auth/login', post({ email, password: PASSWORD }))).json()) as { mfaToken: string };
    expect(
      (await server.fetch('/auth/login/mfa', post({ mfaToken: second.mfaToken, recoveryCode: recoveryCodes[1].toLowerCase() }))).status,
    ).toBe(200);
    const third = (await (await server.fetch('/auth/login', post({ email, password: PASSWORD }))).json()) as { mfaToken: string };
    expect((await server.fetch('/auth/login/mfa', post({ mfaToken: third.mfaToken, recoveryCode: recoveryCodes[0] }))).status).toBe(401);
    await untilLogged(server);
    expect(server.output).toMatch(/login\/mfa/);
    expectAbsent(server.output, [
      enrolment.secret,
      enrolment.otpauthUri,
      ...recoveryCodes,
      ...recoveryCodes.map((c) => c.replace(/-/g, '')),
      recoveryCodes[1].toLowerCase(),
      first.mfaToken,
      second.mfaToken,
      third.mfaToken,
      email,
      accessToken,
    ]);
  });

  test('a GET with ?email=…&token=… on known, protected and unknown routes (and the bootstrap admin is not named)', async () => {
    const email = `query-leak-${randomUUID()}@example.com`;
    const token = `tok-${randomUUID()}`;
    const query = `?email=${encodeURIComponent(email)}&token=${token}`;
    for (const path of ['/health/live', '/users/me', '/no/such/route', '/auth/sessions/not-an-id', '/.well-known/jwks.json', '/%']) {
      await server.fetch(`${path}${query}`);
    }
    await server.fetch(`/auth/login${query}`, post({ email: 'x', password: PASSWORD }));
    await server.fetch(`/users/me${query}`, { headers: { Authorization: `Bearer ${token}` } });
    await untilLogged(server);
    expect(server.output).toContain('request completed');
    expectAbsent(server.output, [email, token, adminEmail, PASSWORD]);
  });
});

const databaseUrl = process.env.DATABASE_URL;
(databaseUrl ? describe : describe.skip)('debug logs never carry the parameters of a failed database query', () => {
  let server: Server;
  let proxy: CuttableProxy;
  const dataDir = mkdtempSync(join(tmpdir(), 'tessera-logs-'));
  beforeAll(async () => {
    const target = new URL(databaseUrl!);
    proxy = await CuttableProxy.start({ host: target.hostname, port: Number(target.port || 5432) });
    target.host = `127.0.0.1:${proxy.port}`;
    server = await Server.start({ DATA_DIR: dataDir, REDIS_URL: process.env.REDIS_URL, DATABASE_URL: target.toString() });
  });
  afterAll(async () => {
    await server?.stop();
    await proxy?.cut();
    rmSync(dataDir, { recursive: true, force: true });
  });

  test('login and register with a distinctive email while the database is down: 503, and the email is not logged', async () => {
    const email = `db-leak-${randomUUID()}@example.com`;
    expect((await server.fetch('/auth/register', post({ email, password: PASSWORD }))).status).toBe(201);
    await proxy.cut();
    const login = await server.fetch('/auth/login', post({ email, password: PASSWORD }));
    expect(login.status).toBe(503);
    const other = `db-leak-new-${randomUUID()}@example.com`;
    expect((await server.fetch('/auth/register', post({ email: other, password: PASSWORD }))).status).toBe(503);
    await untilLogged(server);
    expect(server.output).toContain('request completed');
    expectAbsent(server.output, [email, other, PASSWORD]);
  });
});

describe('the start-up line', () => {
  test('names Swagger UI only when the docs are served', async () => {
    const dataDir = mkdtempSync(join(tmpdir(), 'tessera-logs-'));
    const server = await Server.start({ DATA_DIR: dataDir, DOCS: 'false' });
    try {
      expect(server.output).toContain('Tessera listening');
      expect(server.output).not.toContain('Swagger UI');
      expect((await server.fetch('/docs')).status).toBe(404);
    } finally {
      await server.stop();
      rmSync(dataDir, { recursive: true, force: true });
    }
  });
});
