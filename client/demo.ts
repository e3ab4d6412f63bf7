import { TesseraClient, TesseraError, type Session } from './tessera-client.js';

/** The demo page: everything goes through TesseraClient, exactly as an app would use it. */
const client = new TesseraClient();
const $ = <T extends HTMLElement>(id: string) => document.getElementById(id) as T;

function say(message: string): void {
  $('status').textContent = message;
}

function describe(error: unknown): string {
  if (error instanceof TesseraError) return error.problem?.errors?.map((e) => `${e.field}: ${e.message}`).join('; ') || error.message;
  return 'Something went wrong; try again';
}

async function render(): Promise<void> {
  $('signed-in').hidden = !client.isLoggedIn;
  $('signed-out').hidden = client.isLoggedIn;
  if (!client.isLoggedIn) return;
  try {
    const me = await client.me();
    $('me-email').textContent = me.email;
    $('me-roles').textContent = `(${me.roles.join(', ')})`;
    renderSessions(await client.sessions());
  } catch (error) {
    if (client.isLoggedIn) say(describe(error));
  }
}

function renderSessions(sessions: Session[]): void {
  const rows = sessions.map((session) => {
    const row = document.createElement('tr');
    const cell = (text: string, className?: string) => {
      const td = document.createElement('td');
      td.textContent = text;
      if (className) td.className = className;
      row.append(td);
      return td;
    };
    const device = cell(session.userAgent || 'Unknown device', 'device');
    if (session.current) {
      const badge = document.createElement('span');
      badge.className = 'badge';
      badge.textContent = 'this tab';
      device.append(badge);
    }
    cell(session.ip);
    cell(new Date(session.createdAt).toLocaleString());
    cell(new Date(session.lastUsedAt).toLocaleString());
    const actions = cell('');
    const revoke = document.createElement('button');
    revoke.type = 'button';
    revoke.className = 'secondary';
    revoke.textContent = session.current ? 'Log out' : 'Revoke';
    revoke.setAttribute('aria-label', `Revoke the session of ${session.userAgent || 'an unknown device'}`);
    revoke.dataset.sessionId = session.id;
    revoke.addEventListener(
      'click',
      () =>
        void (async () => {
          try {
            await client.revokeSession(session.id);
            say('Session ended');
          } catch (error) {
            say(describe(error));
          }
          await render();
        })(),
    );
    actions.append(revoke);
    return row;
  });
  $('sessions').replaceChildren(...rows);
}

function formValues(form: HTMLFormElement): { email: string; password: string } {
  const data = new FormData(form);
  const text = (name: string) => {
    const value = data.get(name);
    return typeof value === 'string' ? value : '';
  };
  return { email: text('email'), password: text('password') };
}

$<HTMLFormElement>('login-form').addEventListener(
  'submit',
  (event) =>
    void (async () => {
      event.preventDefault();
      const { email, password } = formValues(event.target as HTMLFormElement);
      try {
        await client.login(email, password);
        say('Logged in');
      } catch (error) {
        say(describe(error));
      }
      await render();
    })(),
);

$<HTMLFormElement>('register-form').addEventListener(
  'submit',
  (event) =>
    void (async () => {
      event.preventDefault();
      const { email, password } = formValues(event.target as HTMLFormElement);
      try {
        await client.register(email, password);
        await client.login(email, password);
        say('Account created; you are logged in');
      } catch (error) {
        say(describe(error));
      }
      await render();
    })(),
);

$('call-me').addEventListener(
  'click',
  () =>
    void (async () => {
      try {
        const me = await client.me();
        $('me-result').textContent = `GET /users/me → 200 at ${new Date().toLocaleTimeString()} (${me.email})`;
      } catch (error) {
        $('me-result').textContent = `GET /users/me failed: ${describe(error)}`;
      }
    })(),
);

$('logout').addEventListener(
  'click',
  () =>
    void (async () => {
      try {
        await client.logout();
        say('Logged out');
      } catch (error) {
        say(`Could not log out: ${describe(error)}`);
      }
      await render();
    })(),
);

$('logout-all').addEventListener(
  'click',
  () =>
    void (async () => {
      try {
        await client.logoutAllDevices();
        say('Logged out on every device');
      } catch (error) {
        say(`Could not log out everywhere: ${describe(error)}`);
      }
      await render();
    })(),
);

client.onChange((state) => {
  if (state === 'logged-out') say('You are logged out');
  void render();
});

// The HttpOnly cookie survives reloads: one refresh restores the session.
void client.restore().then(render);

// For exploring from the browser console (and for the browser tests).
(window as unknown as { tessera: TesseraClient }).tessera = client;
