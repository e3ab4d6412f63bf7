import qrcode from './qrcode.js';
import { type Passkey, TesseraClient, TesseraError, type Session } from './tessera-client.js';

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

/** An error for one form: the messages of the fields it names (without field names), else the detail. */
function describeFor(error: unknown, fields: string[]): string {
  if (error instanceof TesseraError) {
    const messages = error.problem?.errors?.filter((e) => fields.includes(e.field)).map((e) => e.message) ?? [];
    if (messages.length > 0) return messages.join('; ');
  }
  return describe(error);
}

let renders = 0;

async function render(): Promise<void> {
  // Renders may overlap (a restore, a verified link, a tab's message): only the latest one writes.
  const current = ++renders;
  $('signed-in').hidden = !client.isLoggedIn;
  $('signed-out').hidden = client.isLoggedIn;
  if (!client.isLoggedIn) return;
  try {
    const me = await client.me();
    const mfa = await client.mfaStatus();
    if (current !== renders) return;
    $('me-email').textContent = me.email;
    $('me-roles').textContent = `(${me.roles.join(', ')})`;
    const verified = $('me-verified');
    verified.textContent = me.emailVerified ? 'verified' : 'not verified';
    verified.className = me.emailVerified ? 'verified' : 'unverified';
    $('resend-verification').hidden = me.emailVerified !== false;
    // First: with MFA_REQUIRED_ROLES, enrolling may be all this user can do yet (the sessions list is refused until then).
    renderTwoFactor(mfa);
    const sessions = await client.sessions();
    const passkeys = await client.passkeys();
    if (current !== renders) return;
    renderSessions(sessions);
    renderPasskeys(passkeys);
  } catch (error) {
    if (client.isLoggedIn && current === renders) say(describe(error));
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

// --- Passkeys ---

const PASSKEY_MESSAGES: Record<string, string> = {
  webauthn_unsupported: 'This browser cannot use passkeys here.',
  webauthn_cancelled: 'No passkey was used (the prompt was dismissed, or this device already has one for this account).',
};

function describePasskeyError(error: unknown): string {
  return error instanceof TesseraError && PASSKEY_MESSAGES[error.code] ? PASSKEY_MESSAGES[error.code] : describe(error);
}

/**
 * Runs an action that needs a recent authentication; when the server asks for one
 * (`reauthentication_required`), proves it with a passkey and tries once more.
 */
async function withStepUp<T>(action: () => Promise<T>): Promise<T> {
  try {
    return await action();
  } catch (error) {
    if (!(error instanceof TesseraError) || error.code !== 'reauthentication_required') throw error;
    $('passkeys-result').textContent = 'Confirm it is you with a passkey…';
    await client.reauthenticateWithPasskey();
    return action();
  }
}

function renderPasskeys(passkeys: Passkey[]): void {
  const rows = passkeys.map((passkey) => {
    const row = document.createElement('tr');
    row.dataset.passkeyId = passkey.id;
    const nameCell = document.createElement('td');
    const name = document.createElement('input');
    name.value = passkey.name;
    name.maxLength = 64;
    name.setAttribute('aria-label', `Name of the passkey ${passkey.name}`);
    nameCell.append(name);
    if (passkey.backedUp) {
      const badge = document.createElement('span');
      badge.className = 'badge';
      badge.textContent = 'synced';
      nameCell.append(badge);
    }
    const added = document.createElement('td');
    added.textContent = new Date(passkey.createdAt).toLocaleString();
    const used = document.createElement('td');
    used.textContent = passkey.lastUsedAt ? new Date(passkey.lastUsedAt).toLocaleString() : 'never';
    const actions = document.createElement('td');
    const rename = document.createElement('button');
    rename.type = 'button';
    rename.className = 'secondary';
    rename.textContent = 'Rename';
    rename.addEventListener('click', () => void passkeyAction(() => client.renamePasskey(passkey.id, name.value), 'Passkey renamed'));
    const remove = document.createElement('button');
    remove.type = 'button';
    remove.className = 'danger';
    remove.textContent = 'Remove';
    remove.setAttribute('aria-label', `Remove the passkey ${passkey.name}`);
    remove.addEventListener(
      'click',
      () => void passkeyAction(() => withStepUp(() => client.removePasskey(passkey.id)), 'Passkey removed: it no longer logs in'),
    );
    actions.append(rename, remove);
    row.append(nameCell, added, used, actions);
    return row;
  });
  $('passkeys').replaceChildren(...rows);
}

async function passkeyAction(action: () => Promise<unknown>, done: string): Promise<void> {
  try {
    await action();
    $('passkeys-result').textContent = done;
  } catch (error) {
    $('passkeys-result').textContent = describePasskeyError(error);
  }
  await render();
}

onSubmit('passkey-add-form', async (form) => {
  const { name } = fields(form, 'name');
  await passkeyAction(async () => {
    await withStepUp(() => client.registerPasskey(name.trim() || undefined));
    form.reset();
  }, 'Passkey added: you can log in with it now');
});

$('passkey-login').addEventListener(
  'click',
  () =>
    void (async () => {
      try {
        await client.loginWithPasskey();
        say('Logged in with a passkey');
      } catch (error) {
        say(describePasskeyError(error));
      }
      await render();
    })(),
);

/** The text value of each named field of `form` ('' when absent). */
function fields<K extends string>(form: HTMLFormElement, ...names: K[]): Record<K, string> {
  const data = new FormData(form);
  const values = {} as Record<K, string>;
  for (const name of names) {
    const value = data.get(name);
    values[name] = typeof value === 'string' ? value : '';
  }
  return values;
}

function formValues(form: HTMLFormElement): { email: string; password: string } {
  return fields(form, 'email', 'password');
}

/** Runs `action` on submit, with the browser's own submit suppressed and the button off meanwhile. */
function onSubmit(id: string, action: (form: HTMLFormElement) => Promise<void>): void {
  $<HTMLFormElement>(id).addEventListener(
    'submit',
    (event) =>
      void (async () => {
        event.preventDefault();
        const form = event.target as HTMLFormElement;
        const button = form.querySelector<HTMLButtonElement>('button[type=submit]');
        if (button) button.disabled = true;
        try {
          await action(form);
        } finally {
          if (button) button.disabled = false;
        }
      })(),
  );
}

$<HTMLFormElement>('login-form').addEventListener(
  'submit',
  (event) =>
    void (async () => {
      event.preventDefault();
      const { email, password } = formValues(event.target as HTMLFormElement);
      $('login-resend').hidden = true;
      try {
        const result = await client.login(email, password);
        if (result.mfaRequired) {
          // The password was right; the session starts once the second factor is in.
          pendingMfaToken = result.mfaToken;
          showMfaStep(true);
          say('Password accepted; now the code from your authenticator app');
          return;
        }
        say('Logged in');
      } catch (error) {
        say(describe(error));
        // REQUIRE_VERIFIED_EMAIL=true: offer a new link for the address just typed.
        if (error instanceof TesseraError && error.code === 'email_unverified') {
          const resend = $<HTMLButtonElement>('login-resend');
          resend.dataset.email = email;
          resend.hidden = false;
        }
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

// --- Two-factor authentication: the second step of a login, and setting up an authenticator app ---

let pendingMfaToken: string | undefined;

function showMfaStep(show: boolean): void {
  $('mfa-login-form').hidden = !show;
  $('login-form').hidden = show;
  $('mfa-login-error').textContent = '';
  if (show) $('mfa-login-form').querySelector<HTMLInputElement>('input[name=code]')?.focus();
  else pendingMfaToken = undefined;
}

onSubmit('mfa-login-form', async (form) => {
  const typed = fields(form, 'code').code.trim();
  if (!pendingMfaToken) return showMfaStep(false);
  // Six digits are the app's code; anything else is taken for a recovery code.
  const proof = /^\d{6}$/.test(typed.replace(/\s/g, '')) ? { code: typed.replace(/\s/g, '') } : { recoveryCode: typed };
  try {
    await client.completeMfaLogin({ mfaToken: pendingMfaToken, ...proof });
  } catch (error) {
    if (error instanceof TesseraError && error.code === 'invalid_mfa_token') {
      showMfaStep(false);
      say('That took too long or too many tries; log in again');
      return;
    }
    $('mfa-login-error').textContent = describe(error);
    return;
  }
  form.reset();
  showMfaStep(false);
  say('Logged in');
  await render();
});

$('mfa-login-cancel').addEventListener('click', () => showMfaStep(false));

function renderTwoFactor(status: { totp: boolean; recoveryCodesLeft: number }): void {
  $('mfa-state').textContent = status.totp ? `on (${status.recoveryCodesLeft} recovery codes left)` : 'off';
  const enrolling = !$('totp-enrolment').hidden;
  $('totp-enrol').hidden = status.totp || enrolling;
  $('mfa-manage-form').hidden = !status.totp;
}

/** The otpauth URI as a QR code: an SVG of the library's modules, built as DOM nodes (no markup strings). */
function drawQrCode(text: string): SVGSVGElement {
  const code = qrcode(0, 'M');
  code.addData(text);
  code.make();
  const size = code.getModuleCount();
  const ns = 'http://www.w3.org/2000/svg';
  const svg = document.createElementNS(ns, 'svg');
  // A quiet zone of 4 modules around the code, as scanners expect.
  svg.setAttribute('viewBox', `-4 -4 ${size + 8} ${size + 8}`);
  svg.setAttribute('shape-rendering', 'crispEdges');
  for (let row = 0; row < size; row++) {
    for (let column = 0; column < size; column++) {
      if (!code.isDark(row, column)) continue;
      const cell = document.createElementNS(ns, 'rect');
      cell.setAttribute('x', String(column));
      cell.setAttribute('y', String(row));
      cell.setAttribute('width', '1');
      cell.setAttribute('height', '1');
      svg.append(cell);
    }
  }
  return svg;
}

function showRecoveryCodes(codes: string[]): void {
  $('recovery-codes').replaceChildren(
    ...codes.map((code) => {
      const item = document.createElement('li');
      item.textContent = code;
      return item;
    }),
  );
  $('recovery-codes-card').hidden = false;
}

$('totp-enrol').addEventListener(
  'click',
  () =>
    void (async () => {
      try {
        const enrolment = await client.enrolTotp();
        $('totp-qr').replaceChildren(drawQrCode(enrolment.otpauthUri));
        $('totp-qr').dataset.uri = enrolment.otpauthUri;
        $('totp-secret').textContent = enrolment.secret;
        $('totp-enrolment').hidden = false;
        $('totp-enrol').hidden = true;
      } catch (error) {
        say(describe(error));
      }
    })(),
);

onSubmit('totp-confirm-form', async (form) => {
  $('totp-confirm-error').textContent = '';
  try {
    const codes = await client.confirmTotp(fields(form, 'code').code.replace(/\s/g, ''));
    form.reset();
    $('totp-enrolment').hidden = true;
    $('totp-qr').replaceChildren();
    $('totp-secret').textContent = '';
    showRecoveryCodes(codes);
    say('Two-factor authentication is on');
  } catch (error) {
    $('totp-confirm-error').textContent = describe(error);
    return;
  }
  await render();
});

$('recovery-codes-done').addEventListener('click', () => {
  $('recovery-codes').replaceChildren();
  $('recovery-codes-card').hidden = true;
});

$<HTMLFormElement>('mfa-manage-form').addEventListener(
  'submit',
  (event) =>
    void (async () => {
      event.preventDefault();
      const form = event.target as HTMLFormElement;
      const action = (event.submitter as HTMLButtonElement | null)?.value;
      const { password, code } = fields(form, 'password', 'code');
      $('mfa-manage-error').textContent = '';
      try {
        // Both need a fresh proof with two factors (acr aal2): reauthenticate first, then act.
        await client.reauthenticate({ password, code: code.replace(/\s/g, '') });
        if (action === 'disable') {
          await client.disableTotp();
          say('The authenticator app is removed; logins need only your password again');
        } else {
          showRecoveryCodes(await client.regenerateRecoveryCodes());
          say('New recovery codes; the old ones no longer work');
        }
        form.reset();
      } catch (error) {
        $('mfa-manage-error').textContent = describe(error);
        return;
      }
      await render();
    })(),
);

// --- The account lifecycle: forgotten passwords, verification, email change, links from mails ---

const MAIL_ON_ITS_WAY = 'If an account exists for that address, a mail is on its way. Check your inbox (and spam folder).';

$('forgot-toggle').addEventListener('click', () => {
  const form = $('forgot-form');
  form.hidden = !form.hidden;
  $('forgot-toggle').setAttribute('aria-expanded', String(!form.hidden));
  if (!form.hidden) {
    // Carry over what was typed into the login form.
    const typed = $<HTMLFormElement>('login-form').querySelector<HTMLInputElement>('input[name=email]')?.value ?? '';
    const input = form.querySelector<HTMLInputElement>('input[name=email]');
    if (input && !input.value) input.value = typed;
    input?.focus();
  }
});

onSubmit('forgot-form', async (form) => {
  const { email } = fields(form, 'email');
  $('forgot-result').textContent = '';
  try {
    await client.forgotPassword(email);
    // The same words whether or not the account exists: the page must not tell which addresses have one.
    $('forgot-result').textContent = MAIL_ON_ITS_WAY;
  } catch (error) {
    $('forgot-result').textContent = describe(error);
  }
});

async function resendVerification(email?: string): Promise<void> {
  try {
    await client.requestEmailVerification(email);
    say(email ? MAIL_ON_ITS_WAY : 'A new verification mail is on its way; its link replaces any earlier one.');
  } catch (error) {
    say(describe(error));
  }
}

$('resend-verification').addEventListener('click', () => void resendVerification());
$('login-resend').addEventListener('click', () => void resendVerification($('login-resend').dataset.email ?? ''));

onSubmit('change-email-form', async (form) => {
  const { newEmail, currentPassword } = fields(form, 'newEmail', 'currentPassword');
  $('change-email-error').textContent = '';
  try {
    await client.changeEmail(newEmail, currentPassword);
    form.reset();
    say(`A confirmation link is on its way to ${newEmail}; your address changes when you open it.`);
  } catch (error) {
    $('change-email-error').textContent = describeFor(error, ['newEmail', 'currentPassword']);
  }
});

/**
 * A link from a mail: reads its token, then takes it out of the address bar (and so out of the
 * history and of any later bookmark) before doing anything with it.
 */
function takeLinkToken(): string | undefined {
  const url = new URL(location.href);
  const token = url.searchParams.get('token') ?? undefined;
  if (url.searchParams.has('token')) {
    url.searchParams.delete('token');
    history.replaceState(history.state, '', `${url.pathname}${url.search}${url.hash}`);
  }
  return token || undefined;
}

async function verifyFromLink(token: string | undefined): Promise<void> {
  $('verify-email').hidden = false;
  const result = $('verify-result');
  if (!token) {
    result.textContent = 'This page needs the link from your mail, with its token. Open the link again.';
    return;
  }
  result.textContent = 'Verifying your email address…';
  try {
    await client.verifyEmail(token);
    result.textContent = 'Your email address is verified.';
  } catch (error) {
    result.textContent = describe(error);
  }
  await render();
}

function resetFromLink(token: string | undefined): void {
  const form = $<HTMLFormElement>('reset-form');
  if (!token) {
    say('This page needs the link from your mail, with its token. Ask for a new one with "Forgot password?".');
    return;
  }
  form.hidden = false;
  onSubmit('reset-form', async () => {
    const { newPassword } = fields(form, 'newPassword');
    const error = $('reset-error');
    const input = form.querySelector<HTMLInputElement>('input[name=newPassword]');
    error.textContent = '';
    input?.removeAttribute('aria-invalid');
    try {
      await client.resetPassword(token, newPassword);
    } catch (problem) {
      error.textContent = describeFor(problem, ['newPassword']);
      input?.setAttribute('aria-invalid', 'true');
      input?.focus();
      return;
    }
    form.hidden = true;
    // The reset ended every session of that account; if this tab had one, render() finds out.
    await render();
    say('Your password is changed, and every session of your account has ended. Log in with your new password.');
  });
}

const linkPath = location.pathname.replace(/\/+$/, '');
if (linkPath.endsWith('/verify-email')) void verifyFromLink(takeLinkToken());
else if (linkPath.endsWith('/reset-password')) resetFromLink(takeLinkToken());

client.onChange((state) => {
  if (state === 'logged-out') say('You are logged out');
  void render();
});

// The HttpOnly cookie survives reloads: one refresh restores the session.
void client.restore().then(render);

// For exploring from the browser console (and for the browser tests).
(window as unknown as { tessera: TesseraClient }).tessera = client;
