import { describe, expect, jest, test } from '@jest/globals';
import { TesseraClient } from './tessera-client.js';

type Handler = (url: string, init: RequestInit) => Response | Promise<Response>;

const json = (status: number, body: unknown) =>
  new Response(JSON.stringify(body), { status, headers: { 'Content-Type': 'application/json' } });
const problem = (status: number, code: string) =>
  json(status, { type: `urn:tessera:problem:${code}`, title: code, status, detail: code, code });
const tokens = (n: number) => ({ accessToken: `access-${n}`, tokenType: 'Bearer', expiresIn: 900, sessionId: 'sess' });

/** A fake Tessera: records every call; `routes` answer by "METHOD path". */
function fakeServer(routes: Record<string, Handler>) {
  const calls: { method: string; path: string; authorization: string | null; credentials?: string }[] = [];
  const fetch = jest.fn(async (input: Parameters<typeof globalThis.fetch>[0], init: RequestInit = {}): Promise<Response> => {
    const path = typeof input === 'string' ? input : input instanceof URL ? input.href : input.url;
    const method = init.method ?? 'GET';
    calls.push({ method, path, authorization: new Headers(init.headers).get('Authorization'), credentials: init.credentials });
    const handler = routes[`${method} ${path}`];
    if (!handler) return problem(404, 'not_found');
    return handler(path, init);
  }) as unknown as typeof globalThis.fetch;
  return { fetch, calls };
}

/** BroadcastChannel stand-in: every channel of one hub hears the others, like tabs of one origin. */
function channelHub() {
  const members = new Set<{ listener?: (event: { data: unknown }) => void }>();
  return (_name: string) => {
    const me: { listener?: (event: { data: unknown }) => void } = {};
    members.add(me);
    return {
      postMessage: (data: unknown) => {
        for (const other of members) if (other !== me) queueMicrotask(() => other.listener?.({ data }));
      },
      addEventListener: (_type: 'message', listener: (event: { data: unknown }) => void) => {
        me.listener = listener;
      },
      close: () => members.delete(me),
    };
  };
}

describe('TesseraClient', () => {
  test('login keeps the access token in memory and sends it as Bearer; the refresh token never reaches it', async () => {
    const server = fakeServer({
      'POST /auth/login': () => json(200, tokens(1)),
      'GET /users/me': (_p, init) =>
        new Headers(init.headers).get('Authorization') === 'Bearer access-1'
          ? json(200, { id: 'u', email: 'a@b.c', roles: ['user'] })
          : problem(401, 'invalid_token'),
    });
    const client = new TesseraClient({ fetch: server.fetch, channel: null });
    await client.login('a@b.c', 'correct horse battery');
    expect(client.isLoggedIn).toBe(true);
    expect(await client.me()).toEqual({ id: 'u', email: 'a@b.c', roles: ['user'] });
    expect(server.calls.every((c) => c.credentials === 'include')).toBe(true);
    expect(JSON.stringify(client)).not.toContain('refresh');
  });

  test('on 401 invalid_token (its signing key was rotated out) it refreshes once and retries with the new token', async () => {
    let refreshes = 0;
    const server = fakeServer({
      'POST /auth/login': () => json(200, tokens(1)),
      'POST /auth/refresh': () => json(200, tokens(++refreshes + 1)),
      'GET /users/me': (_p, init) =>
        new Headers(init.headers).get('Authorization') === 'Bearer access-2'
          ? json(200, { id: 'u', email: 'a@b.c', roles: [] })
          : problem(401, 'invalid_token'),
    });
    const client = new TesseraClient({ fetch: server.fetch, channel: null });
    await client.login('a@b.c', 'correct horse battery');
    expect((await client.me()).id).toBe('u');
    expect(refreshes).toBe(1);
    expect(client.isLoggedIn).toBe(true);
  });

  test('on 401 token_expired it refreshes once and retries once', async () => {
    let refreshes = 0;
    const server = fakeServer({
      'POST /auth/login': () => json(200, tokens(1)),
      'POST /auth/refresh': () => json(200, tokens(++refreshes + 1)),
      'GET /users/me': (_p, init) =>
        new Headers(init.headers).get('Authorization') === 'Bearer access-2'
          ? json(200, { id: 'u', email: 'a@b.c', roles: [] })
          : problem(401, 'token_expired'),
    });
    const client = new TesseraClient({ fetch: server.fetch, channel: null });
    await client.login('a@b.c', 'correct horse battery');
    expect((await client.me()).id).toBe('u');
    expect(refreshes).toBe(1);
    expect(server.calls.map((c) => `${c.method} ${c.path} ${c.authorization ?? ''}`)).toEqual([
      'POST /auth/login ',
      'GET /users/me Bearer access-1',
      'POST /auth/refresh ',
      'GET /users/me Bearer access-2',
    ]);
  });

  test('concurrent calls share one refresh (single flight)', async () => {
    let refreshes = 0;
    let release!: () => void;
    const gate = new Promise<void>((resolve) => (release = resolve));
    const server = fakeServer({
      'POST /auth/login': () => json(200, tokens(1)),
      'POST /auth/refresh': async () => {
        refreshes++;
        await gate;
        return json(200, tokens(2));
      },
      'GET /users/me': (_p, init) =>
        new Headers(init.headers).get('Authorization') === 'Bearer access-2'
          ? json(200, { id: 'u', email: 'a@b.c', roles: [] })
          : problem(401, 'token_expired'),
    });
    const client = new TesseraClient({ fetch: server.fetch, channel: null });
    await client.login('a@b.c', 'correct horse battery');
    const calls = Promise.all(Array.from({ length: 5 }, () => client.me()));
    await new Promise((resolve) => setTimeout(resolve, 10));
    release();
    expect((await calls).map((u) => u.id)).toEqual(['u', 'u', 'u', 'u', 'u']);
    expect(refreshes).toBe(1);
  });

  test('restore() turns the surviving cookie into a session, or reports there is none', async () => {
    const ok = new TesseraClient({ fetch: fakeServer({ 'POST /auth/refresh': () => json(200, tokens(7)) }).fetch, channel: null });
    const states: string[] = [];
    ok.onChange((state) => states.push(state));
    expect(await ok.restore()).toBe(true);
    expect(ok.isLoggedIn).toBe(true);
    expect(states).toEqual(['logged-in']);

    const none = new TesseraClient({
      fetch: fakeServer({ 'POST /auth/refresh': () => problem(401, 'invalid_refresh_token') }).fetch,
      channel: null,
    });
    expect(await none.restore()).toBe(false);
    expect(none.isLoggedIn).toBe(false);
  });

  test('any other 401 ends the session; a 503 on refresh keeps it', async () => {
    const server = fakeServer({
      'POST /auth/login': () => json(200, tokens(1)),
      'GET /users/me': () => problem(401, 'session_revoked'),
      'POST /auth/refresh': () => problem(503, 'service_unavailable'),
    });
    const client = new TesseraClient({ fetch: server.fetch, channel: null, refreshRetryDelaysMs: [0, 0] });
    await client.login('a@b.c', 'correct horse battery');
    expect(await client.refresh()).toBe(false);
    expect(client.isLoggedIn).toBe(true);
    await expect(client.me()).rejects.toMatchObject({ status: 401, code: 'session_revoked' });
    expect(client.isLoggedIn).toBe(false);
  });

  test('a refresh that fails for a passing reason keeps the session; a failed logout does not pretend', async () => {
    const server = fakeServer({
      'POST /auth/login': () => json(200, tokens(1)),
      'GET /users/me': () => problem(401, 'token_expired'),
      'POST /auth/refresh': () => problem(503, 'service_unavailable'),
      'POST /auth/logout': () => problem(503, 'service_unavailable'),
    });
    const client = new TesseraClient({ fetch: server.fetch, channel: null, refreshRetryDelaysMs: [0, 0] });
    await client.login('a@b.c', 'correct horse battery');
    await expect(client.me()).rejects.toMatchObject({ status: 503 });
    expect(client.isLoggedIn).toBe(true);
    await expect(client.logout()).rejects.toMatchObject({ status: 503, code: 'service_unavailable' });
    expect(client.isLoggedIn).toBe(true);
  });

  test('a refresh answered 503 (or lost) is retried with backoff, so an unconfirmed rotation is never left behind', async () => {
    const answers = [
      () => problem(503, 'service_unavailable'),
      () => Promise.reject(new TypeError('network error')),
      () => json(200, tokens(2)),
    ];
    const server = fakeServer({ 'POST /auth/login': () => json(200, tokens(1)), 'POST /auth/refresh': () => answers.shift()!() });
    const client = new TesseraClient({ fetch: server.fetch, channel: null, refreshRetryDelaysMs: [1, 1, 1] });
    await client.login('a@b.c', 'correct horse battery');
    expect(await client.refresh()).toBe(true);
    expect(server.calls.filter((c) => c.path === '/auth/refresh')).toHaveLength(3);
    expect(client.isLoggedIn).toBe(true);

    // A 401 is final: no retry.
    const ended = fakeServer({
      'POST /auth/login': () => json(200, tokens(1)),
      'POST /auth/refresh': () => problem(401, 'refresh_reused'),
    });
    const other = new TesseraClient({ fetch: ended.fetch, channel: null, refreshRetryDelaysMs: [1, 1, 1] });
    await other.login('a@b.c', 'correct horse battery');
    expect(await other.refresh()).toBe(false);
    expect(ended.calls.filter((c) => c.path === '/auth/refresh')).toHaveLength(1);
    expect(other.isLoggedIn).toBe(false);
  });

  test('errors carry the problem details', async () => {
    const client = new TesseraClient({
      fetch: fakeServer({ 'POST /auth/login': () => problem(401, 'invalid_credentials') }).fetch,
      channel: null,
    });
    await expect(client.login('a@b.c', 'wrong password!')).rejects.toMatchObject({
      status: 401,
      code: 'invalid_credentials',
      problem: { code: 'invalid_credentials' },
    });
  });

  test('a logout in one tab logs out the others', async () => {
    const hub = channelHub();
    const server = fakeServer({
      'POST /auth/login': () => json(200, tokens(1)),
      'POST /auth/refresh': () => json(200, tokens(2)),
      'POST /auth/logout': () => new Response(null, { status: 204 }),
    });
    const tabA = new TesseraClient({ fetch: server.fetch, createChannel: hub });
    const tabB = new TesseraClient({ fetch: server.fetch, createChannel: hub });
    await tabA.login('a@b.c', 'correct horse battery');
    // B hears of the login and picks the session up from the shared cookie.
    await new Promise((resolve) => setTimeout(resolve, 10));
    expect(tabB.isLoggedIn).toBe(true);
    const statesB: string[] = [];
    tabB.onChange((state) => statesB.push(state));
    await tabA.logout();
    await new Promise((resolve) => setTimeout(resolve, 10));
    expect(tabA.isLoggedIn).toBe(false);
    expect(tabB.isLoggedIn).toBe(false);
    expect(statesB).toEqual(['logged-out']);
    tabA.close();
    tabB.close();
  });

  test('the access token is never written to web storage', async () => {
    const setItem = jest.fn();
    const storage = { setItem, getItem: jest.fn(), removeItem: jest.fn(), clear: jest.fn(), key: jest.fn(), length: 0 };
    Object.assign(globalThis, { localStorage: storage, sessionStorage: storage });
    try {
      const client = new TesseraClient({ fetch: fakeServer({ 'POST /auth/login': () => json(200, tokens(1)) }).fetch, channel: null });
      await client.login('a@b.c', 'correct horse battery');
      expect(setItem).not.toHaveBeenCalled();
    } finally {
      delete (globalThis as Record<string, unknown>).localStorage;
      delete (globalThis as Record<string, unknown>).sessionStorage;
    }
  });
});

describe('TesseraClient sends the Bearer token only to its own origin', () => {
  /** Records every call with its absolute URL (resolved as a browser would) and Authorization. */
  function recordingFetch(pageUrl: string) {
    const calls: { url: string; authorization: string | null }[] = [];
    const fetch = jest.fn(async (input: Parameters<typeof globalThis.fetch>[0], init: RequestInit = {}): Promise<Response> => {
      const url = new URL(typeof input === 'string' ? input : input instanceof URL ? input.href : input.url, pageUrl).href;
      calls.push({ url, authorization: new Headers(init.headers).get('Authorization') });
      if (url.endsWith('/auth/login')) return json(200, tokens(1));
      return json(200, {});
    }) as unknown as typeof globalThis.fetch;
    return { fetch, calls };
  }

  const foreign = [
    '//evil.example/x',
    'https://evil.example',
    'https://evil.example/users/me',
    'https://auth.example.com@evil.example/',
    'https://host@evil.example/',
    'http://auth.example.com/users/me',
    '/\\evil.example/x',
    '\\\\evil.example/x',
    '/\t/evil.example/x',
    '/\n/evil.example/x',
    ' //evil.example/x',
    'javascript:alert(1)',
    'data:text/plain,x',
  ];

  async function loggedIn(baseUrl: string, pageUrl: string) {
    const server = recordingFetch(pageUrl);
    const client = new TesseraClient({ baseUrl, fetch: server.fetch, channel: null });
    await client.login('a@b.c', 'correct horse battery');
    return { client, calls: server.calls };
  }

  test.each(foreign)('with baseUrl https://auth.example.com: %j never gets the token', async (target) => {
    const { client, calls } = await loggedIn('https://auth.example.com', 'https://app.example.com/page');
    await client.fetch(target).catch(() => undefined);
    const leaked = calls.filter((c) => c.authorization !== null && new URL(c.url).origin !== 'https://auth.example.com');
    expect(leaked).toEqual([]);
    expect(calls.filter((c) => c.authorization !== null)).toEqual([]);
  });

  test.each(foreign)("with baseUrl '' on https://auth.example.com: %j never gets the token", async (target) => {
    const page = 'https://auth.example.com/demo';
    Object.assign(globalThis, { location: new URL(page) });
    try {
      const { client, calls } = await loggedIn('', page);
      await client.fetch(target).catch(() => undefined);
      expect(calls.filter((c) => c.authorization !== null)).toEqual([]);
    } finally {
      delete (globalThis as Record<string, unknown>).location;
    }
  });

  test('a foreign target is refused with a TesseraError, before any request', async () => {
    const { client, calls } = await loggedIn('https://auth.example.com', 'https://app.example.com/page');
    const before = calls.length;
    await expect(client.fetch('https://evil.example/x')).rejects.toMatchObject({ name: 'TesseraError', code: 'foreign_origin' });
    expect(calls.length).toBe(before);
  });

  test('same-origin calls keep working, with and without a baseUrl (and a baseUrl with a path)', async () => {
    const absolute = await loggedIn('https://auth.example.com', 'https://app.example.com/page');
    await absolute.client.fetch('/users/me');
    await absolute.client.fetch('https://auth.example.com/auth/sessions');
    await absolute.client.me();
    expect(absolute.calls.slice(1)).toEqual([
      { url: 'https://auth.example.com/users/me', authorization: 'Bearer access-1' },
      { url: 'https://auth.example.com/auth/sessions', authorization: 'Bearer access-1' },
      { url: 'https://auth.example.com/users/me', authorization: 'Bearer access-1' },
    ]);

    const prefixed = await loggedIn('https://example.com/tessera/', 'https://example.com/app');
    await prefixed.client.fetch('/users/me');
    expect(prefixed.calls[1]).toEqual({ url: 'https://example.com/tessera/users/me', authorization: 'Bearer access-1' });

    const page = 'https://auth.example.com/demo';
    Object.assign(globalThis, { location: new URL(page) });
    try {
      const relative = await loggedIn('', page);
      await relative.client.fetch('/users/me');
      await relative.client.fetch('https://auth.example.com/auth/sessions');
      expect(relative.calls.slice(1)).toEqual([
        { url: 'https://auth.example.com/users/me', authorization: 'Bearer access-1' },
        { url: 'https://auth.example.com/auth/sessions', authorization: 'Bearer access-1' },
      ]);
    } finally {
      delete (globalThis as Record<string, unknown>).location;
    }
  });
});

describe('TesseraClient: the account lifecycle', () => {
  /** A fake server that records each call's body too. */
  function accountServer(routes: Record<string, Handler>) {
    const bodies: unknown[] = [];
    const contentTypes: (string | null)[] = [];
    const server = fakeServer(
      Object.fromEntries(
        Object.entries(routes).map(([route, handler]) => [
          route,
          (path: string, init: RequestInit) => {
            bodies.push(typeof init.body === 'string' ? JSON.parse(init.body) : init.body);
            contentTypes.push(new Headers(init.headers).get('Content-Type'));
            return handler(path, init);
          },
        ]),
      ),
    );
    return { ...server, bodies, contentTypes };
  }
  const accepted = () => new Response(null, { status: 202 });
  const noContent = () => new Response(null, { status: 204 });
  const weakPassword = () =>
    json(400, {
      type: 'urn:tessera:problem:weak_password',
      title: 'Weak password',
      status: 400,
      detail: 'newPassword: must be at least 15 characters long',
      code: 'weak_password',
      errors: [{ field: 'newPassword', message: 'must be at least 15 characters long' }],
    });
  const last = <T>(list: T[]) => list[list.length - 1];

  test('requestEmailVerification(): logged in, with the Bearer token and no body', async () => {
    const server = accountServer({ 'POST /auth/login': () => json(200, tokens(1)), 'POST /auth/email/verification': accepted });
    const client = new TesseraClient({ fetch: server.fetch, channel: null });
    await client.login('a@b.c', 'correct horse battery');
    await expect(client.requestEmailVerification()).resolves.toBeUndefined();
    // An email given while logged in is not sent: the token names the account.
    await client.requestEmailVerification('other@b.c');
    expect(server.calls.slice(1).map((c) => `${c.method} ${c.path} ${c.authorization ?? ''}`)).toEqual([
      'POST /auth/email/verification Bearer access-1',
      'POST /auth/email/verification Bearer access-1',
    ]);
    expect(server.bodies.slice(1)).toEqual([undefined, undefined]);
  });

  test('requestEmailVerification(email): logged out, public, with the email and no Authorization', async () => {
    const server = accountServer({ 'POST /auth/email/verification': accepted });
    const client = new TesseraClient({ fetch: server.fetch, channel: null });
    await client.requestEmailVerification('a@b.c');
    expect(server.calls).toEqual([{ method: 'POST', path: '/auth/email/verification', authorization: null, credentials: 'include' }]);
    expect(server.bodies).toEqual([{ email: 'a@b.c' }]);
    expect(server.contentTypes).toEqual(['application/json']);
  });

  test('requestEmailVerification() logged out without an email: tries the cookie, then missing_token', async () => {
    const server = accountServer({ 'POST /auth/refresh': () => problem(401, 'invalid_refresh_token') });
    const client = new TesseraClient({ fetch: server.fetch, channel: null });
    await expect(client.requestEmailVerification()).rejects.toMatchObject({ name: 'TesseraError', status: 401, code: 'missing_token' });
    expect(server.calls.map((c) => c.path)).toEqual(['/auth/refresh']);
  });

  test('verifyEmail(token): public, even when logged in; link_invalid surfaces as a TesseraError', async () => {
    let valid = true;
    const server = accountServer({
      'POST /auth/login': () => json(200, tokens(1)),
      'POST /auth/email/verify': () => (valid ? noContent() : problem(400, 'link_invalid')),
    });
    const client = new TesseraClient({ fetch: server.fetch, channel: null });
    await client.verifyEmail('tok-1');
    await client.login('a@b.c', 'correct horse battery');
    valid = false;
    await expect(client.verifyEmail('tok-2')).rejects.toMatchObject({
      name: 'TesseraError',
      status: 400,
      code: 'link_invalid',
      problem: { code: 'link_invalid' },
    });
    const verifyCalls = server.calls.filter((c) => c.path === '/auth/email/verify');
    expect(verifyCalls.map((c) => c.authorization)).toEqual([null, null]);
    expect(server.bodies.filter((b) => b && typeof b === 'object' && 'token' in b)).toEqual([{ token: 'tok-1' }, { token: 'tok-2' }]);
    // A bad link does not end the session.
    expect(client.isLoggedIn).toBe(true);
  });

  test('forgotPassword(email): public POST with the email', async () => {
    const server = accountServer({ 'POST /auth/password/forgot': accepted });
    const client = new TesseraClient({ fetch: server.fetch, channel: null });
    await expect(client.forgotPassword('a@b.c')).resolves.toBeUndefined();
    expect(server.calls).toEqual([{ method: 'POST', path: '/auth/password/forgot', authorization: null, credentials: 'include' }]);
    expect(server.bodies).toEqual([{ email: 'a@b.c' }]);
  });

  test('resetPassword(token, newPassword): public; weak_password keeps its field errors', async () => {
    const answers = [weakPassword, noContent];
    const server = accountServer({ 'POST /auth/password/reset': () => answers.shift()!() });
    const client = new TesseraClient({ fetch: server.fetch, channel: null });
    const error = await client.resetPassword('tok', 'too short').catch((e: unknown) => e);
    expect(error).toMatchObject({
      name: 'TesseraError',
      status: 400,
      code: 'weak_password',
      problem: { errors: [{ field: 'newPassword', message: 'must be at least 15 characters long' }] },
    });
    await expect(client.resetPassword('tok', 'a much longer passphrase')).resolves.toBeUndefined();
    expect(server.bodies).toEqual([
      { token: 'tok', newPassword: 'too short' },
      { token: 'tok', newPassword: 'a much longer passphrase' },
    ]);
    expect(server.calls.map((c) => c.authorization)).toEqual([null, null]);
  });

  test('changeEmail(newEmail, currentPassword): Bearer and a JSON body; email_taken and validation_failed surface', async () => {
    const answers = [accepted, () => problem(409, 'email_taken'), () => problem(400, 'validation_failed')];
    const server = accountServer({ 'POST /auth/login': () => json(200, tokens(1)), 'POST /auth/email/change': () => answers.shift()!() });
    const client = new TesseraClient({ fetch: server.fetch, channel: null });
    await client.login('a@b.c', 'correct horse battery');
    await client.changeEmail('new@b.c', 'correct horse battery');
    await expect(client.changeEmail('taken@b.c', 'correct horse battery')).rejects.toMatchObject({ status: 409, code: 'email_taken' });
    await expect(client.changeEmail('new@b.c', 'wrong')).rejects.toMatchObject({ status: 400, code: 'validation_failed' });
    expect(last(server.calls)).toMatchObject({ method: 'POST', path: '/auth/email/change', authorization: 'Bearer access-1' });
    expect(server.bodies.slice(1)).toEqual([
      { newEmail: 'new@b.c', currentPassword: 'correct horse battery' },
      { newEmail: 'taken@b.c', currentPassword: 'correct horse battery' },
      { newEmail: 'new@b.c', currentPassword: 'wrong' },
    ]);
    expect(server.contentTypes.slice(1)).toEqual(['application/json', 'application/json', 'application/json']);
    expect(client.isLoggedIn).toBe(true);
  });

  test('changeEmail() refreshes an expired access token once, like every Bearer call', async () => {
    const server = accountServer({
      'POST /auth/login': () => json(200, tokens(1)),
      'POST /auth/refresh': () => json(200, tokens(2)),
      'POST /auth/email/change': (_p, init) =>
        new Headers(init.headers).get('Authorization') === 'Bearer access-2' ? accepted() : problem(401, 'token_expired'),
    });
    const client = new TesseraClient({ fetch: server.fetch, channel: null });
    await client.login('a@b.c', 'correct horse battery');
    await client.changeEmail('new@b.c', 'correct horse battery');
    expect(server.calls.map((c) => `${c.path} ${c.authorization ?? ''}`)).toEqual([
      '/auth/login ',
      '/auth/email/change Bearer access-1',
      '/auth/refresh ',
      '/auth/email/change Bearer access-2',
    ]);
    // The retry sends the same body.
    expect(server.bodies.slice(3)).toEqual([server.bodies[1]]);
  });

  test('without the server answering in JSON, errors still carry the status', async () => {
    const server = accountServer({ 'POST /auth/password/forgot': () => new Response('Bad gateway', { status: 502 }) });
    const client = new TesseraClient({ fetch: server.fetch, channel: null });
    await expect(client.forgotPassword('a@b.c')).rejects.toMatchObject({ name: 'TesseraError', status: 502, code: 'http_error' });
  });

  describe('passkeys', () => {
    const credential = (id: string) => ({ toJSON: () => ({ id, rawId: id, type: 'public-key', response: {} }) });
    /** A fake navigator.credentials and PublicKeyCredential JSON helpers; returns what they were given. */
    function fakeWebAuthn(answer: () => Promise<unknown>) {
      const seen: { create: unknown[]; get: unknown[] } = { create: [], get: [] };
      Object.defineProperty(globalThis, 'PublicKeyCredential', {
        configurable: true,
        value: {
          parseCreationOptionsFromJSON: (options: unknown) => ({ parsedCreation: options }),
          parseRequestOptionsFromJSON: (options: unknown) => ({ parsedRequest: options }),
        },
      });
      Object.defineProperty(globalThis, 'navigator', {
        configurable: true,
        value: {
          credentials: {
            create: (options: unknown) => (seen.create.push(options), answer()),
            get: (options: unknown) => (seen.get.push(options), answer()),
          },
        },
      });
      return seen;
    }
    const withoutWebAuthn = () => Object.defineProperty(globalThis, 'PublicKeyCredential', { configurable: true, value: undefined });

    test('registerPasskey: options with the Bearer token, parsed by the browser, the credential toJSON() sent back', async () => {
      const seen = fakeWebAuthn(async () => credential('cred-1'));
      const bodies: unknown[] = [];
      const server = fakeServer({
        'POST /auth/login': () => json(200, tokens(1)),
        'POST /auth/passkeys/registration/options': () => json(200, { challenge: 'c1' }),
        'POST /auth/passkeys': (_p, init) => (bodies.push(JSON.parse(init.body as string)), json(201, { id: 'cred-1', name: 'Laptop' })),
      });
      const client = new TesseraClient({ fetch: server.fetch, channel: null });
      await client.login('a@b.c', 'correct horse battery');
      expect(await client.registerPasskey('Laptop')).toMatchObject({ id: 'cred-1' });
      expect(seen.create).toEqual([{ publicKey: { parsedCreation: { challenge: 'c1' } } }]);
      expect(bodies).toEqual([{ response: { id: 'cred-1', rawId: 'cred-1', type: 'public-key', response: {} }, name: 'Laptop' }]);
      expect(server.calls.filter((c) => c.path.startsWith('/auth/passkeys')).map((c) => c.authorization)).toEqual([
        'Bearer access-1',
        'Bearer access-1',
      ]);
    });

    test('loginWithPasskey: public options and login, then logged in and the other tabs told', async () => {
      const seen = fakeWebAuthn(async () => credential('cred-2'));
      const server = fakeServer({
        'POST /auth/passkeys/login/options': () => json(200, { challenge: 'c2', allowCredentials: [] }),
        'POST /auth/passkeys/login': (_p, init) =>
          JSON.parse(init.body as string).response.id === 'cred-2' ? json(200, tokens(7)) : problem(401, 'invalid_passkey'),
      });
      const hub = channelHub();
      const client = new TesseraClient({ fetch: server.fetch, createChannel: hub });
      const other = new TesseraClient({ fetch: server.fetch, createChannel: hub });
      const told = jest.fn();
      other.onChange(told);
      await client.loginWithPasskey();
      expect(client.isLoggedIn).toBe(true);
      expect(seen.get).toEqual([{ publicKey: { parsedRequest: { challenge: 'c2', allowCredentials: [] } } }]);
      expect(server.calls.every((c) => c.authorization === null)).toBe(true);
      await new Promise((resolve) => setTimeout(resolve, 0));
      expect(server.calls.some((c) => c.path === '/auth/refresh')).toBe(true);
      client.close();
      other.close();
    });

    test('reauthenticateWithPasskey: the new access token replaces the old; a refused passkey keeps the session', async () => {
      fakeWebAuthn(async () => credential('cred-3'));
      let accept = true;
      const server = fakeServer({
        'POST /auth/login': () => json(200, tokens(1)),
        'POST /auth/reauthenticate/options': () => json(200, { challenge: 'c3' }),
        'POST /auth/reauthenticate': () =>
          accept ? json(200, { accessToken: 'access-fresh', tokenType: 'Bearer', expiresIn: 900 }) : problem(401, 'invalid_passkey'),
        'GET /users/me': (_p, init) => json(200, { id: 'u', email: new Headers(init.headers).get('Authorization'), roles: [] }),
      });
      const client = new TesseraClient({ fetch: server.fetch, channel: null });
      await client.login('a@b.c', 'correct horse battery');
      await client.reauthenticateWithPasskey();
      expect((await client.me()).email).toBe('Bearer access-fresh');
      accept = false;
      await expect(client.reauthenticateWithPasskey()).rejects.toMatchObject({ status: 401, code: 'invalid_passkey' });
      expect(client.isLoggedIn).toBe(true);
    });

    test('reauthentication_required keeps the session (the caller steps up and retries)', async () => {
      fakeWebAuthn(async () => credential('x'));
      const server = fakeServer({
        'POST /auth/login': () => json(200, tokens(1)),
        'DELETE /auth/passkeys/p%2F1': () => problem(401, 'reauthentication_required'),
      });
      const client = new TesseraClient({ fetch: server.fetch, channel: null });
      await client.login('a@b.c', 'correct horse battery');
      await expect(client.removePasskey('p/1')).rejects.toMatchObject({ code: 'reauthentication_required' });
      expect(client.isLoggedIn).toBe(true);
    });

    test('a dismissed prompt is webauthn_cancelled, and nothing is sent after it', async () => {
      fakeWebAuthn(async () => {
        throw Object.assign(new Error('The operation either timed out or was not allowed'), { name: 'NotAllowedError' });
      });
      const server = fakeServer({ 'POST /auth/passkeys/login/options': () => json(200, { challenge: 'c' }) });
      const client = new TesseraClient({ fetch: server.fetch, channel: null });
      await expect(client.loginWithPasskey()).rejects.toMatchObject({ code: 'webauthn_cancelled' });
      expect(server.calls.map((c) => c.path)).toEqual(['/auth/passkeys/login/options']);
    });

    test('a browser without the WebAuthn JSON helpers: webauthn_unsupported before any request', async () => {
      fakeWebAuthn(async () => credential('x'));
      withoutWebAuthn();
      const server = fakeServer({});
      const client = new TesseraClient({ fetch: server.fetch, channel: null });
      await expect(client.loginWithPasskey()).rejects.toMatchObject({ code: 'webauthn_unsupported' });
      await expect(client.registerPasskey()).rejects.toMatchObject({ code: 'webauthn_unsupported' });
      expect(server.calls).toEqual([]);
    });

    test('list, rename, remove', async () => {
      const server = fakeServer({
        'POST /auth/login': () => json(200, tokens(1)),
        'GET /auth/passkeys': () => json(200, [{ id: 'a', name: 'Laptop' }]),
        'PATCH /auth/passkeys/a': (_p, init) => json(200, { id: 'a', name: JSON.parse(init.body as string).name }),
        'DELETE /auth/passkeys/a': () => new Response(null, { status: 204 }),
      });
      const client = new TesseraClient({ fetch: server.fetch, channel: null });
      await client.login('a@b.c', 'correct horse battery');
      expect(await client.passkeys()).toEqual([{ id: 'a', name: 'Laptop' }]);
      expect(await client.renamePasskey('a', 'Phone')).toEqual({ id: 'a', name: 'Phone' });
      await client.removePasskey('a');
    });
  });
});

describe('TesseraClient: second factors', () => {
  const challenge = { mfaRequired: true, mfaToken: 'T'.repeat(43), methods: ['totp', 'recovery_code'] };
  const bodyOf = (init: RequestInit) => JSON.parse(init.body as string) as Record<string, unknown>;

  test('login surfaces mfaRequired and logs nothing in; completeMfaLogin finishes with the code or a recovery code', async () => {
    const seen: Record<string, unknown>[] = [];
    const server = fakeServer({
      'POST /auth/login': () => json(200, challenge),
      'POST /auth/login/mfa': (_p, init) => {
        seen.push(bodyOf(init));
        return bodyOf(init).code === '000000' ? problem(401, 'invalid_code') : json(200, tokens(1));
      },
    });
    const client = new TesseraClient({ fetch: server.fetch, channel: null });
    const states: string[] = [];
    client.onChange((state) => states.push(state));
    const result = await client.login('a@b.c', 'correct horse battery');
    expect(result).toEqual(challenge);
    expect(client.isLoggedIn).toBe(false);
    if (!result.mfaRequired) throw new Error('expected a challenge');
    await expect(client.completeMfaLogin({ mfaToken: result.mfaToken, code: '000000' })).rejects.toMatchObject({ code: 'invalid_code' });
    expect(client.isLoggedIn).toBe(false);
    await client.completeMfaLogin({ mfaToken: result.mfaToken, code: '123456' });
    expect(client.isLoggedIn).toBe(true);
    expect(states).toEqual(['logged-in']);
    await client.completeMfaLogin({ mfaToken: result.mfaToken, recoveryCode: 'ABCD-EFGH-JKMN' });
    expect(seen).toEqual([
      { mfaToken: challenge.mfaToken, code: '000000' },
      { mfaToken: challenge.mfaToken, code: '123456' },
      { mfaToken: challenge.mfaToken, recoveryCode: 'ABCD-EFGH-JKMN' },
    ]);
  });

  test('a login without a second factor says mfaRequired: false', async () => {
    const client = new TesseraClient({ fetch: fakeServer({ 'POST /auth/login': () => json(200, tokens(1)) }).fetch, channel: null });
    expect(await client.login('a@b.c', 'correct horse battery')).toEqual({ mfaRequired: false });
    expect(client.isLoggedIn).toBe(true);
  });

  test('enrol, confirm, status, new recovery codes, disable: with the Bearer token', async () => {
    const server = fakeServer({
      'POST /auth/login': () => json(200, tokens(1)),
      'GET /auth/mfa': () => json(200, { totp: true, recoveryCodesLeft: 10 }),
      'POST /auth/mfa/totp': () => json(200, { secret: 'JBSWY3DPEHPK3PXP', otpauthUri: 'otpauth://totp/x' }),
      'POST /auth/mfa/totp/confirm': (_p, init) =>
        bodyOf(init).code === '123456' ? json(200, { recoveryCodes: ['A', 'B'] }) : problem(400, 'mfa_code_invalid'),
      'POST /auth/mfa/recovery-codes': () => json(200, { recoveryCodes: ['C'] }),
      'DELETE /auth/mfa/totp': () => new Response(null, { status: 204 }),
    });
    const client = new TesseraClient({ fetch: server.fetch, channel: null });
    await client.login('a@b.c', 'correct horse battery');
    expect(await client.enrolTotp()).toEqual({ secret: 'JBSWY3DPEHPK3PXP', otpauthUri: 'otpauth://totp/x' });
    await expect(client.confirmTotp('999999')).rejects.toMatchObject({ status: 400, code: 'mfa_code_invalid' });
    expect(await client.confirmTotp('123456')).toEqual(['A', 'B']);
    expect(await client.mfaStatus()).toEqual({ totp: true, recoveryCodesLeft: 10 });
    expect(await client.regenerateRecoveryCodes()).toEqual(['C']);
    await client.disableTotp();
    expect(server.calls.filter((c) => c.path.startsWith('/auth/mfa')).every((c) => c.authorization === 'Bearer access-1')).toBe(true);
  });

  test('reauthenticate sends what it is given and uses the new access token from then on', async () => {
    const sent: Record<string, unknown>[] = [];
    const server = fakeServer({
      'POST /auth/login': () => json(200, tokens(1)),
      'POST /auth/reauthenticate': (_p, init) => {
        sent.push(bodyOf(init));
        return bodyOf(init).code === '000000'
          ? problem(401, 'invalid_code')
          : json(200, { accessToken: 'access-2', tokenType: 'Bearer', expiresIn: 900 });
      },
      'DELETE /auth/mfa/totp': (_p, init) =>
        new Headers(init.headers).get('Authorization') === 'Bearer access-2'
          ? new Response(null, { status: 204 })
          : problem(401, 'reauthentication_required'),
    });
    const client = new TesseraClient({ fetch: server.fetch, channel: null });
    await client.login('a@b.c', 'correct horse battery');
    await expect(client.reauthenticate({ code: '000000' })).rejects.toMatchObject({ code: 'invalid_code' });
    // A wrong code is a typo, not the end of the session.
    expect(client.isLoggedIn).toBe(true);
    await client.reauthenticate({ password: 'correct horse battery', code: '123456' });
    await client.disableTotp();
    expect(sent).toEqual([{ code: '000000' }, { password: 'correct horse battery', code: '123456' }]);
  });
});
