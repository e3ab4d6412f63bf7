/**
 * Tessera's browser client: framework-free, no runtime dependencies.
 *
 * Rules it follows (see the README's client guidance):
 * - the access token lives in this object's memory only, never in localStorage/sessionStorage;
 *   the refresh token is the server's HttpOnly cookie, which scripts never see;
 * - `fetch()` adds the Bearer token and, on 401 `token_expired` or `invalid_token`, refreshes once and retries once;
 * - refresh is single-flight: any number of concurrent callers share one request;
 * - `restore()` on page load turns the surviving cookie back into a session with one refresh;
 * - tabs stay in step through BroadcastChannel: a logout in one tab logs out the others.
 */

export interface TokenResponse {
  accessToken: string;
  tokenType: 'Bearer';
  expiresIn: number;
  sessionId: string;
}

/** POST /auth/login for an account with an authenticator app: finish with `completeMfaLogin`. */
export interface MfaChallenge {
  mfaRequired: true;
  /** Single-use, lives 5 minutes, dies after 5 wrong codes. */
  mfaToken: string;
  methods: ('totp' | 'recovery_code')[];
}

/** What `login()` resolves to: logged in, or a second factor is needed. */
export type LoginResult = { mfaRequired: false } | MfaChallenge;

/** The second step of a login: the challenge's token and the app's code, or one recovery code. */
export type MfaLoginInput = { mfaToken: string } & (
  { code: string; recoveryCode?: undefined } | { recoveryCode: string; code?: undefined }
);

/** What POST /auth/reauthenticate accepts: a password, a code, or a password with a code or recovery code. */
export interface ReauthenticationInput {
  password?: string;
  code?: string;
  recoveryCode?: string;
}

export interface MfaStatus {
  totp: boolean;
  recoveryCodesLeft: number;
}

export interface TotpEnrolment {
  /** Base32, for typing into the app by hand. */
  secret: string;
  /** For a QR code. */
  otpauthUri: string;
}

export interface User {
  id: string;
  email: string;
  roles: string[];
  /** Whether the address was confirmed through a mailed link (in `GET /users/me` answers). */
  emailVerified?: boolean;
}

export interface Session {
  id: string;
  current: boolean;
  createdAt: string;
  lastUsedAt: string;
  expiresAt: string;
  userAgent: string;
  ip: string;
}

/** RFC 9457 problem details, as Tessera answers every error. */
export interface Problem {
  type: string;
  title: string;
  status: number;
  detail: string;
  code: string;
  errors?: { field: string; message: string }[];
}

export class TesseraError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    readonly problem?: Problem,
  ) {
    super(problem?.detail ?? `Request failed with status ${status}`);
    this.name = 'TesseraError';
  }
}

export type SessionState = 'logged-in' | 'logged-out';

/** A passkey as `GET /auth/passkeys` lists it. */
export interface Passkey {
  id: string;
  name: string;
  createdAt: string;
  lastUsedAt: string | null;
  backedUp: boolean;
}

/** The browser's WebAuthn JSON helpers (Chrome 129+, Firefox 119+, Safari 18.4+), which the passkey methods need. */
interface WebAuthnJson {
  parseCreationOptionsFromJSON(options: unknown): CredentialCreationOptions['publicKey'];
  parseRequestOptionsFromJSON(options: unknown): CredentialRequestOptions['publicKey'];
}

/** 401 codes that do not mean the session is over: a step-up is wanted, or a proof was refused. */
const SESSION_KEEPING_401 = new Set(['reauthentication_required', 'invalid_passkey', 'invalid_credentials']);

/**
 * 401 codes a refresh may cure: the access token expired, or no longer verifies (its signing key
 * was removed in a key rotation) while its session lives on. The refresh says which it is.
 */
const REFRESHABLE_401 = new Set(['token_expired', 'invalid_token']);

interface ChannelLike {
  postMessage(message: unknown): void;
  addEventListener(type: 'message', listener: (event: { data: unknown }) => void): void;
  close(): void;
}

export interface TesseraClientOptions {
  /** Where Tessera is served; '' (the default) means this page's origin. */
  baseUrl?: string;
  /** For tests and unusual environments; defaults to the global fetch. */
  fetch?: typeof fetch;
  /** Tabs sharing this name stay in step; null turns cross-tab messages off. */
  channel?: string | null;
  /** For tests; defaults to the global BroadcastChannel when there is one. */
  createChannel?: (name: string) => ChannelLike;
  /**
   * Pauses before retrying a refresh that got 503 or no answer. A 503 may hide a rotation the server
   * could not confirm; retrying the same token inside the server's grace window (10 s by default)
   * gets its successor or rotates it, never a false `refresh_reused`. The default adds up to 5.5 s.
   */
  refreshRetryDelaysMs?: number[];
}

type Message = { type: 'logged-out' } | { type: 'logged-in' };

export class TesseraClient {
  private accessToken: string | undefined;
  private currentSessionId: string | undefined;
  private refreshing: Promise<boolean> | undefined;
  private readonly listeners = new Set<(state: SessionState) => void>();
  private readonly channel: ChannelLike | undefined;
  private readonly baseUrl: string;
  private readonly doFetch: typeof fetch;
  private readonly retryDelaysMs: number[];

  constructor(options: TesseraClientOptions = {}) {
    this.retryDelaysMs = options.refreshRetryDelaysMs ?? [250, 750, 1500, 3000];
    this.baseUrl = (options.baseUrl ?? '').replace(/\/$/, '');
    this.doFetch = options.fetch ?? ((input, init) => globalThis.fetch(input, init));
    const name = options.channel === undefined ? 'tessera-session' : options.channel;
    const create =
      options.createChannel ??
      (typeof BroadcastChannel === 'undefined' ? undefined : (channelName: string) => new BroadcastChannel(channelName));
    if (name !== null && create) {
      this.channel = create(name);
      this.channel.addEventListener('message', (event) => this.onMessage(event.data as Message));
    }
  }

  get isLoggedIn(): boolean {
    return this.accessToken !== undefined;
  }

  /** The id of this tab's session (to mark it in a sessions list). */
  get sessionId(): string | undefined {
    return this.currentSessionId;
  }

  /** Called with 'logged-in' / 'logged-out' whenever that changes, here or in another tab. */
  onChange(listener: (state: SessionState) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  async register(email: string, password: string): Promise<User> {
    return this.json<User>(await this.post('/auth/register', { email, password }));
  }

  /**
   * Logs in with a password. For an account with an authenticator app the answer is an
   * MfaChallenge and nothing is logged in yet: ask for a code and call `completeMfaLogin`.
   */
  async login(email: string, password: string): Promise<LoginResult> {
    const answer = await this.json<TokenResponse | MfaChallenge>(await this.post('/auth/login', { email, password }));
    if ('mfaRequired' in answer) return answer;
    this.accept(answer);
    this.broadcast({ type: 'logged-in' });
    return { mfaRequired: false };
  }

  /**
   * The second step of a login: errors `invalid_code` (try again, up to 5 times per challenge),
   * `invalid_mfa_token` (expired, used or dead: log in again), `rate_limited`.
   */
  async completeMfaLogin(input: MfaLoginInput): Promise<void> {
    const body =
      input.code !== undefined
        ? { mfaToken: input.mfaToken, code: input.code }
        : { mfaToken: input.mfaToken, recoveryCode: input.recoveryCode };
    this.accept(await this.json<TokenResponse>(await this.post('/auth/login/mfa', body)));
    this.broadcast({ type: 'logged-in' });
  }

  /**
   * Proves who the user is again (step-up, after 401 `reauthentication_required`): this session's
   * access token is replaced by one with the new proof. `{password, code}` satisfies routes that
   * want two factors (`acr_values="urn:tessera:aal2"`).
   */
  async reauthenticate(input: ReauthenticationInput): Promise<void> {
    const { password, code, recoveryCode } = input;
    const init = {
      method: 'POST',
      headers: { 'Content-Type': 'application/json' },
      body: JSON.stringify({ password, code, recoveryCode }),
    };
    if (!this.accessToken && !(await this.refresh())) throw new TesseraError(401, 'missing_token');
    let response = await this.send('/auth/reauthenticate', init);
    if (response.status === 401 && REFRESHABLE_401.has((await this.problemCode(response.clone())) ?? '') && (await this.refresh())) {
      response = await this.send('/auth/reauthenticate', init);
    }
    if (!response.ok) {
      const error = await this.error(response);
      // A wrong password or code is the user's typo, not the end of the session (fetch() would end it on a 401).
      if (response.status === 401 && error.code !== 'invalid_credentials' && error.code !== 'invalid_code') this.end(true);
      throw error;
    }
    this.accessToken = ((await response.json()) as { accessToken: string }).accessToken;
  }

  async mfaStatus(): Promise<MfaStatus> {
    return this.json<MfaStatus>(await this.fetch('/auth/mfa'));
  }

  /** Starts setting up an authenticator app (needs a recent authentication); pending until `confirmTotp`. */
  async enrolTotp(): Promise<TotpEnrolment> {
    return this.json<TotpEnrolment>(await this.fetch('/auth/mfa/totp', { method: 'POST' }));
  }

  /** Confirms the app with its current code; resolves to the 10 recovery codes, shown once. Error: `mfa_code_invalid`. */
  async confirmTotp(code: string): Promise<string[]> {
    const answer = await this.json<{ recoveryCodes: string[] }>(
      await this.fetch('/auth/mfa/totp/confirm', {
        method: 'POST',
        headers: { 'Content-Type': 'application/json' },
        body: JSON.stringify({ code }),
      }),
    );
    return answer.recoveryCodes;
  }

  /** Removes the app and its recovery codes (needs a recent reauthentication with password and code). */
  async disableTotp(): Promise<void> {
    await this.expectNoContent(await this.fetch('/auth/mfa/totp', { method: 'DELETE' }));
  }

  /** A new set of recovery codes, the old set dies (needs a recent reauthentication with password and code). */
  async regenerateRecoveryCodes(): Promise<string[]> {
    return (await this.json<{ recoveryCodes: string[] }>(await this.fetch('/auth/mfa/recovery-codes', { method: 'POST' }))).recoveryCodes;
  }

  /** On page load: the HttpOnly cookie survives reloads, so one refresh restores the session. */
  restore(): Promise<boolean> {
    return this.refresh();
  }

  /** Single-flight: concurrent callers share one refresh request. Resolves to whether it worked. */
  refresh(): Promise<boolean> {
    this.refreshing ??= this.refreshOnce().finally(() => {
      this.refreshing = undefined;
    });
    return this.refreshing;
  }

  /**
   * fetch() with the Bearer token. On 401 `token_expired` or `invalid_token` (a rotated-out signing
   * key) it refreshes once and retries once;
   * on any other 401 the session is over and the client says so. Only for Tessera's own origin:
   * any other target is refused (TesseraError `foreign_origin`) before a request is made.
   */
  async fetch(path: string, init: RequestInit = {}): Promise<Response> {
    this.ownUrl(path);
    if (!this.accessToken && !(await this.refresh())) throw new TesseraError(401, 'missing_token');
    const sentWith = this.accessToken;
    let response = await this.send(path, init);
    if (response.status === 401 && REFRESHABLE_401.has((await this.problemCode(response.clone())) ?? '')) {
      // Another call may have refreshed meanwhile: then just retry with the newer token.
      const refreshed = this.accessToken !== sentWith || (await this.refresh());
      if (!refreshed) {
        // The refresh itself ended the session (401), or failed for a passing reason (503, offline).
        if (this.isLoggedIn) throw new TesseraError(503, 'refresh_unavailable');
        return response;
      }
      response = await this.send(path, init);
    }
    // A step-up request or a refused proof leaves the session alone; any other 401 means it is over.
    if (response.status === 401 && !SESSION_KEEPING_401.has((await this.problemCode(response.clone())) ?? '')) this.end(true);
    return response;
  }

  async me(): Promise<User> {
    return this.json<User>(await this.fetch('/users/me'));
  }

  async sessions(): Promise<Session[]> {
    return this.json<Session[]>(await this.fetch('/auth/sessions'));
  }

  async revokeSession(id: string): Promise<void> {
    await this.expectNoContent(await this.fetch(`/auth/sessions/${encodeURIComponent(id)}`, { method: 'DELETE' }));
  }

  /**
   * Ends this session (Bearer, or the cookie alone when the access token is gone) and tells the
   * other tabs. Throws, and stays logged in, if the server could not end it (503, offline): a
   * logout that did not happen must not look as if it had.
   */
  async logout(): Promise<void> {
    const response = await this.doFetch(`${this.baseUrl}/auth/logout`, {
      method: 'POST',
      credentials: 'include',
      headers: this.accessToken ? { Authorization: `Bearer ${this.accessToken}` } : {},
    });
    // 401: there was no session left to end, which is just as logged out.
    if (!response.ok && response.status !== 401) throw await this.error(response);
    this.end(true);
  }

  async logoutAllDevices(): Promise<void> {
    const response = await this.fetch('/auth/logout-all-devices', { method: 'POST' });
    if (!response.ok && response.status !== 401) throw await this.error(response);
    this.end(true);
  }

  /**
   * Asks for a new verification mail (202). Logged in: for this account's address, with the Bearer
   * token (`email` is not sent). Logged out: for `email`, publicly, and the answer is the same
   * whether or not such an account exists. Logged out without `email`: the surviving refresh cookie
   * is tried first (as `fetch()` does), else TesseraError `missing_token`.
   */
  async requestEmailVerification(email?: string): Promise<void> {
    if (this.isLoggedIn || email === undefined) {
      await this.expectNoContent(await this.fetch('/auth/email/verification', { method: 'POST' }));
      return;
    }
    await this.expectNoContent(await this.post('/auth/email/verification', { email }));
  }

  /**
   * Confirms an address with the token of a mailed link (204); this also completes an email change.
   * Public: no Bearer token is sent. An unknown, used, expired or superseded link: `link_invalid`.
   */
  async verifyEmail(token: string): Promise<void> {
    await this.expectNoContent(await this.post('/auth/email/verify', { token }));
  }

  /** Asks for a password-reset mail. Always 202, whether or not the account exists. */
  async forgotPassword(email: string): Promise<void> {
    await this.expectNoContent(await this.post('/auth/password/forgot', { email }));
  }

  /**
   * Sets a new password with the token of a reset mail (204). The server ends every session of that
   * account, this tab's included if it is one of them (the next call finds out). Errors:
   * `weak_password` (its `errors[0].field` is `newPassword`), `link_invalid`.
   */
  async resetPassword(token: string, newPassword: string): Promise<void> {
    await this.expectNoContent(await this.post('/auth/password/reset', { token, newPassword }));
  }

  /**
   * Starts an email change (202): a confirmation mail goes to `newEmail`, and the address changes
   * when its link is opened. Needs the Bearer token. Errors: `email_taken`, `validation_failed`
   * (a wrong `currentPassword`).
   */
  async changeEmail(newEmail: string, currentPassword: string): Promise<void> {
    await this.expectNoContent(
      await this.fetch('/auth/email/change', {
        method: 'POST',
        headers: { 'Content-Type': 'application/json' },
        body: JSON.stringify({ newEmail, currentPassword }),
      }),
    );
  }

  /**
   * Registers a passkey of this browser (or a phone, a security key) for the signed-in account:
   * creation options from the server, `navigator.credentials.create()`, and the credential's
   * `toJSON()` back. Needs a recent authentication (`reauthentication_required` otherwise: call
   * reauthenticateWithPasskey() or log in again). Errors: `webauthn_unsupported` (no WebAuthn JSON
   * helpers in this browser), `webauthn_cancelled` (the user dismissed the prompt, or the
   * authenticator already holds a passkey of this account), and the server's problems.
   */
  async registerPasskey(name?: string): Promise<Passkey> {
    const webauthn = this.webauthn();
    const options = await this.json<unknown>(await this.fetch('/auth/passkeys/registration/options', { method: 'POST' }));
    const credential = await this.ceremony(() =>
      navigator.credentials.create({ publicKey: webauthn.parseCreationOptionsFromJSON(options) }),
    );
    return this.json<Passkey>(await this.fetch('/auth/passkeys', jsonBody('POST', { response: credential.toJSON(), name })));
  }

  /** Logs in with a passkey the browser offers for this site (no email needed); like login(), tells the other tabs. */
  async loginWithPasskey(): Promise<void> {
    const webauthn = this.webauthn();
    const options = await this.json<unknown>(await this.post('/auth/passkeys/login/options', {}));
    const credential = await this.ceremony(() => navigator.credentials.get({ publicKey: webauthn.parseRequestOptionsFromJSON(options) }));
    this.accept(await this.json<TokenResponse>(await this.post('/auth/passkeys/login', { response: credential.toJSON() })));
    this.broadcast({ type: 'logged-in' });
  }

  /**
   * Proves again who the user is with one of their passkeys (step-up): the session stays, and its
   * access token is replaced by one with a new `auth_time`. Then retry what answered
   * `reauthentication_required`.
   */
  async reauthenticateWithPasskey(): Promise<void> {
    const webauthn = this.webauthn();
    const options = await this.json<unknown>(await this.fetch('/auth/reauthenticate/options', { method: 'POST' }));
    const credential = await this.ceremony(() => navigator.credentials.get({ publicKey: webauthn.parseRequestOptionsFromJSON(options) }));
    const { accessToken } = await this.json<{ accessToken: string }>(
      await this.fetch('/auth/reauthenticate', jsonBody('POST', { response: credential.toJSON() })),
    );
    this.accessToken = accessToken;
  }

  async passkeys(): Promise<Passkey[]> {
    return this.json<Passkey[]>(await this.fetch('/auth/passkeys'));
  }

  async renamePasskey(id: string, name: string): Promise<Passkey> {
    return this.json<Passkey>(await this.fetch(`/auth/passkeys/${encodeURIComponent(id)}`, jsonBody('PATCH', { name })));
  }

  /** Needs a recent authentication (`reauthentication_required` otherwise). */
  async removePasskey(id: string): Promise<void> {
    await this.expectNoContent(await this.fetch(`/auth/passkeys/${encodeURIComponent(id)}`, { method: 'DELETE' }));
  }

  /** Stops listening to other tabs (e.g. in tests, or when the app unmounts). */
  close(): void {
    this.channel?.close();
  }

  /** The browser's WebAuthn JSON helpers, or TesseraError `webauthn_unsupported` before any request is made. */
  private webauthn(): WebAuthnJson {
    const helpers = (globalThis as { PublicKeyCredential?: Partial<WebAuthnJson> }).PublicKeyCredential;
    const credentials = (globalThis as { navigator?: { credentials?: unknown } }).navigator?.credentials;
    if (
      typeof helpers?.parseCreationOptionsFromJSON !== 'function' ||
      typeof helpers.parseRequestOptionsFromJSON !== 'function' ||
      !credentials
    ) {
      throw new TesseraError(0, 'webauthn_unsupported');
    }
    return helpers as WebAuthnJson;
  }

  /** Runs a WebAuthn prompt: a dismissed prompt (NotAllowedError, InvalidStateError, or no credential) is `webauthn_cancelled`. */
  private async ceremony(prompt: () => Promise<Credential | null>): Promise<PublicKeyCredential> {
    let credential: Credential | null;
    try {
      credential = await prompt();
    } catch (error) {
      const name = (error as { name?: string }).name;
      if (name === 'NotAllowedError' || name === 'InvalidStateError' || name === 'AbortError')
        throw new TesseraError(0, 'webauthn_cancelled');
      throw error;
    }
    if (!credential) throw new TesseraError(0, 'webauthn_cancelled');
    return credential as PublicKeyCredential;
  }

  private async refreshOnce(): Promise<boolean> {
    const wasLoggedIn = this.isLoggedIn;
    for (let attempt = 0; ; attempt++) {
      let response: Response | undefined;
      try {
        response = await this.doFetch(`${this.baseUrl}/auth/refresh`, { method: 'POST', credentials: 'include' });
      } catch {
        response = undefined; // offline, or the answer was lost
      }
      if (response?.ok) {
        this.accept((await response.json()) as TokenResponse);
        return true;
      }
      // A 401 means the session is over; 429 and other errors are not worth retrying at once.
      if (response?.status === 401) this.end(wasLoggedIn);
      const retryable = response === undefined || response.status === 503;
      const delay = this.retryDelaysMs[attempt];
      // Out of retries: keep the state, the next call tries again.
      if (!retryable || delay === undefined) return false;
      await new Promise((resolve) => setTimeout(resolve, delay));
    }
  }

  private accept(tokens: TokenResponse): void {
    const wasLoggedIn = this.isLoggedIn;
    this.accessToken = tokens.accessToken;
    this.currentSessionId = tokens.sessionId;
    if (!wasLoggedIn) this.emit('logged-in');
  }

  /** Forgets the tokens; `tell` also informs the other tabs and listeners. */
  private end(tell: boolean): void {
    const wasLoggedIn = this.isLoggedIn;
    this.accessToken = undefined;
    this.currentSessionId = undefined;
    if (!wasLoggedIn) return;
    this.emit('logged-out');
    if (tell) this.broadcast({ type: 'logged-out' });
  }

  private onMessage(message: Message): void {
    if (message?.type === 'logged-out') this.end(false);
    // Another tab logged in: the shared cookie now holds that session (perhaps another user's);
    // pick it up with a refresh, and say so if it is a different session.
    else if (message?.type === 'logged-in') void this.adopt();
  }

  private async adopt(): Promise<void> {
    const before = this.currentSessionId;
    if ((await this.refresh()) && before !== undefined && before !== this.currentSessionId) {
      this.emit('logged-out');
      this.emit('logged-in');
    }
  }

  private broadcast(message: Message): void {
    this.channel?.postMessage(message);
  }

  private emit(state: SessionState): void {
    for (const listener of this.listeners) listener(state);
  }

  private send(path: string, init: RequestInit): Promise<Response> {
    const url = this.ownUrl(path);
    const headers = new Headers(init.headers);
    if (this.accessToken) headers.set('Authorization', `Bearer ${this.accessToken}`);
    return this.doFetch(url, { ...init, headers, credentials: 'include' });
  }

  /**
   * Where `path` points, if that is Tessera's own origin (baseUrl's, or this page's when baseUrl is
   * ''); otherwise throws `foreign_origin`, so the Bearer token never leaves for another origin.
   * The target is resolved exactly as the browser will resolve it (WHATWG URL: `\` counts as
   * `/`, tabs and newlines are dropped, `user@host` names host), then its origin compared:
   * `//evil.example`, `https://host@evil.example`, `/\evil.example`, an `http:` downgrade all fail.
   */
  private ownUrl(path: string): string {
    const page = (globalThis as { location?: { href: string } }).location?.href;
    // Without a page (tests, workers with baseUrl ''), an origin nothing else can have.
    const base = this.baseUrl ? `${this.baseUrl}/` : (page ?? 'http://tessera.invalid/');
    // A plain absolute path is appended to baseUrl (which may carry a path prefix), as before.
    const plainPath = /^\/(?![/\\])[^\t\n\r]*$/.test(path);
    const url = plainPath ? `${this.baseUrl}${path}` : path;
    let target: URL;
    try {
      target = new URL(url, base);
    } catch {
      throw new TesseraError(0, 'foreign_origin');
    }
    if (target.origin !== new URL(base).origin || target.origin === 'null') throw new TesseraError(0, 'foreign_origin');
    return plainPath ? url : target.href;
  }

  private post(path: string, body: unknown): Promise<Response> {
    return this.doFetch(`${this.baseUrl}${path}`, {
      method: 'POST',
      credentials: 'include',
      headers: { 'Content-Type': 'application/json' },
      body: JSON.stringify(body),
    });
  }

  private async json<T>(response: Response): Promise<T> {
    if (!response.ok) throw await this.error(response);
    return (await response.json()) as T;
  }

  private async expectNoContent(response: Response): Promise<void> {
    if (!response.ok) throw await this.error(response);
  }

  private async error(response: Response): Promise<TesseraError> {
    let problem: Problem | undefined;
    try {
      problem = (await response.json()) as Problem;
    } catch {
      problem = undefined;
    }
    return new TesseraError(response.status, problem?.code ?? 'http_error', problem);
  }

  private async problemCode(response: Response): Promise<string | undefined> {
    try {
      return ((await response.json()) as Problem).code;
    } catch {
      return undefined;
    }
  }
}

function jsonBody(method: string, body: unknown): RequestInit {
  return { method, headers: { 'Content-Type': 'application/json' }, body: JSON.stringify(body) };
}
