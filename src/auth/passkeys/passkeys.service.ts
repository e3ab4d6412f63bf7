import { randomBytes } from 'node:crypto';
import { Inject, Injectable } from '@nestjs/common';
import type { ConfigType } from '@nestjs/config';
import {
  type AuthenticationResponseJSON,
  generateAuthenticationOptions,
  generateRegistrationOptions,
  type PublicKeyCredentialCreationOptionsJSON,
  type PublicKeyCredentialRequestOptionsJSON,
  type RegistrationResponseJSON,
  verifyAuthenticationResponse,
  verifyRegistrationResponse,
} from '@simplewebauthn/server';
import { Problems } from '../../common/problems/problem.js';
import { appConfig, hostMatchesRpId } from '../../config/configuration.js';
import type { WebauthnCredentialRow } from '../../database/schema.js';
import { type PurposeKeys, ServerSecrets } from '../../secrets/server-secrets.js';
import { TICKET_STORE, type TicketStore } from '../../tickets/ticket-store.js';
import { PasskeysRepository } from './passkeys.repository.js';

/** Challenges live 5 minutes (the contract), and each is used once. */
export const PASSKEY_CHALLENGE_TTL_SECONDS = 300;
/** What the browser is given to complete a ceremony (WebAuthn's `timeout`, milliseconds). */
const CEREMONY_TIMEOUT_MS = 120_000;
export const PASSKEY_NAME_MAX = 64;
/** Algorithms offered at registration: Ed25519, ES256, RS256 (what authenticators in use support). */
const ALGORITHMS = [-8, -7, -257];

export type ChallengePurpose = 'register' | 'login' | 'reauth';

interface ChallengeTicket {
  purpose: ChallengePurpose;
  userId?: string;
  sessionId?: string;
}

/** The relying party of one request: its RP ID and the origins whose ceremonies are accepted. */
export interface RelyingParty {
  rpId: string;
  origins: string[];
}

/** Where a request came from, as the HTTP layer sees it (Fastify's `protocol` and `host`, port included). */
export interface RequestOrigin {
  protocol: string;
  host: string;
}

/** A passkey as the owner sees it: never the public key or the counter. */
export interface PasskeyView {
  id: string;
  name: string;
  createdAt: string;
  lastUsedAt: string | null;
  backedUp: boolean;
}

/**
 * A refused assertion, with the reason the security event records (never shown to the client:
 * every refusal answers alike). `userId` when the credential was known.
 */
export class PasskeyRejected extends Error {
  constructor(
    readonly reason: string,
    readonly userId?: string,
  ) {
    super(`Passkey refused: ${reason}`);
  }
}

/** What a verified assertion proved. */
export interface VerifiedPasskey {
  credentialId: string;
  userId: string;
  userVerified: boolean;
  backedUp: boolean;
}

const BASE64URL = /^[A-Za-z0-9_-]*$/;
const isB64 = (value: unknown, max: number): value is string =>
  typeof value === 'string' && value.length > 0 && value.length <= max && BASE64URL.test(value);

/**
 * The shape of a credential's `toJSON()` (the parts the server reads), checked before anything
 * else so malformed input is a 400 naming `response`, never an error deep inside the library.
 */
function checkShape(value: unknown, kind: 'registration' | 'authentication'): void {
  const invalid = (message: string) => Problems.validation([{ field: 'response', message }]);
  if (typeof value !== 'object' || value === null || Array.isArray(value)) throw invalid('must be the credential as toJSON() gives it');
  const credential = value as Record<string, unknown>;
  if (!isB64(credential.id, 1366) || credential.rawId !== credential.id) throw invalid('id and rawId must be the same base64url string');
  if (credential.type !== 'public-key') throw invalid('type must be "public-key"');
  const inner = credential.response as Record<string, unknown> | undefined;
  if (typeof inner !== 'object' || inner === null || Array.isArray(inner)) throw invalid('response.response must be an object');
  if (!isB64(inner.clientDataJSON, 4096)) throw invalid('response.response.clientDataJSON must be base64url');
  if (kind === 'registration') {
    if (!isB64(inner.attestationObject, 12_000)) throw invalid('response.response.attestationObject must be base64url');
    if (inner.transports !== undefined && (!Array.isArray(inner.transports) || !inner.transports.every((t) => typeof t === 'string')))
      throw invalid('response.response.transports must be a list of strings');
  } else {
    if (!isB64(inner.authenticatorData, 4096)) throw invalid('response.response.authenticatorData must be base64url');
    if (!isB64(inner.signature, 2048)) throw invalid('response.response.signature must be base64url');
    if (inner.userHandle !== undefined && inner.userHandle !== null && !isB64(inner.userHandle, 128))
      throw invalid('response.response.userHandle must be base64url');
  }
  if (
    credential.clientExtensionResults !== undefined &&
    (typeof credential.clientExtensionResults !== 'object' || credential.clientExtensionResults === null)
  )
    throw invalid('clientExtensionResults must be an object');
}

/** The challenge the client signed, read from clientDataJSON (the library checks it again). */
function signedChallenge(clientDataJSON: string): string | undefined {
  try {
    const data = JSON.parse(Buffer.from(clientDataJSON, 'base64url').toString('utf8')) as { challenge?: unknown };
    return typeof data.challenge === 'string' && isB64(data.challenge, 256) ? data.challenge : undefined;
  } catch {
    return undefined;
  }
}

/** The WebAuthn user handle of an account: its id, as bytes (no personal data in the authenticator). */
const userHandleOf = (userId: string): Uint8Array<ArrayBuffer> => new Uint8Array(Buffer.from(userId, 'utf8'));

/**
 * Passkeys (WebAuthn, through @simplewebauthn/server): the ceremonies and the policy of a user's
 * credentials, below the HTTP layer and without sessions or tokens (the auth layer turns a verified
 * assertion into a login or a reauthentication).
 *
 * Challenges are random 32-byte values handed to the browser and kept in the TicketStore (Redis, so
 * every instance sees them) under an HMAC of the challenge (purpose `webauthn-challenge`), never in
 * the clear, with what they are for: a registration of a user, a login, or a reauthentication of
 * one session. Verifying takes the ticket first, so each challenge works once, whatever the outcome.
 */
@Injectable()
export class PasskeysService {
  private readonly challengeKeys: PurposeKeys;

  constructor(
    private readonly repository: PasskeysRepository,
    @Inject(TICKET_STORE) private readonly tickets: TicketStore,
    secrets: ServerSecrets,
    @Inject(appConfig.KEY) private readonly app: ConfigType<typeof appConfig>,
  ) {
    this.challengeKeys = secrets.for('webauthn-challenge');
  }

  /**
   * The RP ID is WEBAUTHN_RP_ID (default the host of PUBLIC_ORIGIN; without it, in development,
   * the request's host). Accepted origins: this server's own (PUBLIC_ORIGIN, or the request's) and
   * the CORS_ORIGINS on the RP ID's site.
   */
  relyingParty(request: RequestOrigin): RelyingParty {
    const own = this.app.publicOrigin ?? `${request.protocol}://${request.host}`;
    let ownHost: string;
    try {
      ownHost = new URL(own).hostname;
    } catch {
      // Development without PUBLIC_ORIGIN: the Host header is the client's to write.
      throw Problems.validation([{ field: 'Host', message: 'must be a valid host' }]);
    }
    const rpId = this.app.webauthn.rpId ?? ownHost;
    const extra = this.app.corsOrigins.filter((origin) => hostMatchesRpId(new URL(origin).hostname, rpId));
    return { rpId, origins: [own, ...extra.filter((origin) => origin !== own)] };
  }

  async registrationOptions(user: { id: string; email: string }, rp: RelyingParty): Promise<PublicKeyCredentialCreationOptionsJSON> {
    const existing = await this.repository.listByUser(user.id);
    return generateRegistrationOptions({
      rpName: this.app.webauthn.rpName,
      rpID: rp.rpId,
      userName: user.email,
      userDisplayName: user.email,
      userID: userHandleOf(user.id),
      challenge: await this.issueChallenge({ purpose: 'register', userId: user.id }),
      timeout: CEREMONY_TIMEOUT_MS,
      attestationType: 'none',
      excludeCredentials: existing.map((c) => ({ id: c.id, transports: c.transports })),
      authenticatorSelection: { residentKey: 'required', requireResidentKey: true, userVerification: 'preferred' },
      supportedAlgorithmIDs: ALGORITHMS,
    });
  }

  /**
   * Verifies a registration response against the user's pending challenge and stores the
   * credential. 400 `passkey_not_verified` for anything that does not verify (wrong, used or expired
   * challenge, foreign origin or RP ID, bad attestation); 409 `passkey_exists` when the credential
   * is already registered (here or on another account).
   */
  async register(userId: string, response: unknown, name: string | undefined, rp: RelyingParty): Promise<PasskeyView> {
    checkShape(response, 'registration');
    const credentialJson = response as RegistrationResponseJSON;
    const challenge = signedChallenge(credentialJson.response.clientDataJSON);
    const ticket = challenge === undefined ? undefined : await this.takeChallenge(challenge);
    if (!challenge || ticket?.purpose !== 'register' || ticket.userId !== userId) throw Problems.passkeyNotVerified();
    let verified;
    try {
      verified = await verifyRegistrationResponse({
        response: credentialJson,
        expectedChallenge: challenge,
        expectedOrigin: rp.origins,
        expectedRPID: rp.rpId,
        requireUserVerification: false,
        supportedAlgorithmIDs: ALGORITHMS,
      });
    } catch {
      throw Problems.passkeyNotVerified();
    }
    if (!verified.verified) throw Problems.passkeyNotVerified();
    const info = verified.registrationInfo;
    // The id the authenticator attested is the one stored: it must be the one the response names, and at most 1023 bytes (WebAuthn §7.1).
    const idBytes = Buffer.from(info.credential.id, 'base64url').length;
    if (info.credential.id !== credentialJson.id || idBytes < 1 || idBytes > 1023) throw Problems.passkeyNotVerified();
    const stored = await this.repository.insert({
      id: info.credential.id,
      userId,
      publicKey: Buffer.from(info.credential.publicKey).toString('base64url'),
      counter: info.credential.counter,
      transports: (credentialJson.response.transports ?? []).slice(0, 8).map((t) => String(t).slice(0, 32)),
      deviceType: info.credentialDeviceType,
      backedUp: info.credentialBackedUp,
      name: name ?? 'Passkey',
    });
    if (!stored) throw Problems.passkeyExists();
    return toView(stored);
  }

  /** Options for a passwordless login: no allowCredentials, the browser offers the discoverable credentials it has for the RP. */
  async loginOptions(rp: RelyingParty): Promise<PublicKeyCredentialRequestOptionsJSON> {
    return generateAuthenticationOptions({
      rpID: rp.rpId,
      allowCredentials: [],
      userVerification: 'preferred',
      timeout: CEREMONY_TIMEOUT_MS,
      challenge: await this.issueChallenge({ purpose: 'login' }),
    });
  }

  /** Options for a reauthentication of one session: only the user's own credentials, the challenge bound to user and session. */
  async reauthenticationOptions(user: { id: string; sessionId: string }, rp: RelyingParty): Promise<PublicKeyCredentialRequestOptionsJSON> {
    const credentials = await this.repository.listByUser(user.id);
    if (credentials.length === 0) throw Problems.noPasskey();
    return generateAuthenticationOptions({
      rpID: rp.rpId,
      allowCredentials: credentials.map((c) => ({ id: c.id, transports: c.transports })),
      userVerification: 'preferred',
      timeout: CEREMONY_TIMEOUT_MS,
      challenge: await this.issueChallenge({ purpose: 'reauth', userId: user.id, sessionId: user.sessionId }),
    });
  }

  /**
   * Verifies an assertion for `purpose` (a login, or a reauthentication of `session`): the
   * challenge (taken: single-use), the credential (known; at a reauthentication, the user's own),
   * the user handle, the signature, origin and RP ID, and the signature counter, which must go up
   * unless the authenticator keeps none (0 both times). Records the use (counter, backup state,
   * time). Throws 400 `validation_failed` for a malformed response, PasskeyRejected for the rest.
   */
  async verifyAssertion(
    response: unknown,
    rp: RelyingParty,
    expected: { purpose: 'login' } | { purpose: 'reauth'; userId: string; sessionId: string },
  ): Promise<VerifiedPasskey> {
    checkShape(response, 'authentication');
    const assertion = response as AuthenticationResponseJSON;
    const challenge = signedChallenge(assertion.response.clientDataJSON);
    const ticket = challenge === undefined ? undefined : await this.takeChallenge(challenge);
    const credential = await this.repository.findById(assertion.id);
    // Whom the failure is recorded against: the user reauthenticating, or the owner of the credential the response names.
    const expectedUser = expected.purpose === 'reauth' ? expected.userId : credential?.userId;
    if (!challenge || !ticket) throw new PasskeyRejected('unknown_challenge', expectedUser);
    if (
      ticket.purpose !== expected.purpose ||
      (expected.purpose === 'reauth' && (ticket.userId !== expected.userId || ticket.sessionId !== expected.sessionId))
    ) {
      throw new PasskeyRejected('wrong_challenge', expectedUser);
    }
    if (!credential) throw new PasskeyRejected('unknown_credential', expectedUser);
    if (expectedUser !== undefined && credential.userId !== expectedUser) throw new PasskeyRejected('foreign_credential', expectedUser);
    const handle = assertion.response.userHandle;
    if (handle && handle !== Buffer.from(userHandleOf(credential.userId)).toString('base64url')) {
      throw new PasskeyRejected('user_handle_mismatch', credential.userId);
    }
    let info;
    try {
      const result = await verifyAuthenticationResponse({
        response: assertion,
        expectedChallenge: challenge,
        expectedOrigin: rp.origins,
        expectedRPID: rp.rpId,
        requireUserVerification: false,
        // Counter 0 here: the library would refuse a regression before checking the signature,
        // and a refusal anyone could cause with a credential id must not be recorded as a clone.
        credential: { id: credential.id, publicKey: new Uint8Array(Buffer.from(credential.publicKey, 'base64url')), counter: 0 },
      });
      if (!result.verified) throw new PasskeyRejected('bad_signature', credential.userId);
      info = result.authenticationInfo;
      // BE never changes over a credential's life (WebAuthn §6.1.3): a synced key claiming to be device-bound is lying.
      if (info.credentialDeviceType !== credential.deviceType) throw new PasskeyRejected('backup_eligibility_changed', credential.userId);
    } catch (error) {
      if (error instanceof PasskeyRejected) throw error;
      throw new PasskeyRejected('invalid_response', credential.userId);
    }
    // Only now that the signature is the authenticator's: a counter that did not go up means a
    // cloned authenticator or a replayed assertion (WebAuthn §6.1.1). The check is the stored
    // counter's conditional update, so two instances cannot both accept one counter value.
    if (!(await this.repository.recordUse(credential.id, info.newCounter, info.credentialBackedUp))) {
      throw new PasskeyRejected('counter_regressed', credential.userId);
    }
    return { credentialId: credential.id, userId: credential.userId, userVerified: info.userVerified, backedUp: info.credentialBackedUp };
  }

  async list(userId: string): Promise<PasskeyView[]> {
    return (await this.repository.listByUser(userId)).map(toView);
  }

  /** 404 for an id the user does not own (another user's looks like none). */
  async rename(userId: string, id: string, name: string): Promise<PasskeyView> {
    const row = await this.repository.rename(userId, id, name);
    if (!row) throw Problems.notFound('No passkey with this id');
    return toView(row);
  }

  /** 404 for an id the user does not own. */
  async remove(userId: string, id: string): Promise<void> {
    if (!(await this.repository.delete(userId, id))) throw Problems.notFound('No passkey with this id');
  }

  /** How many passkeys the user has (MFA_REQUIRED_ROLES counts them as a second factor). */
  count(userId: string): Promise<number> {
    return this.repository.countByUser(userId);
  }

  /** Removes every passkey of the user (an admin's "lost device" reset); how many there were. */
  removeAll(userId: string): Promise<number> {
    return this.repository.deleteAllOfUser(userId);
  }

  /** Whether `id` is one of the user's passkeys (a 404 before a step-up question, not after). */
  async owns(userId: string, id: string): Promise<boolean> {
    const row = await this.repository.findById(id);
    return row?.userId === userId;
  }

  /** 32 random bytes (the library base64url-encodes bytes for the options; a string it would take as UTF-8 text). */
  private async issueChallenge(ticket: ChallengeTicket): Promise<Uint8Array<ArrayBuffer>> {
    const challenge = new Uint8Array(randomBytes(32));
    await this.tickets.put(
      this.ticketKey(Buffer.from(challenge).toString('base64url')),
      JSON.stringify(ticket),
      PASSKEY_CHALLENGE_TTL_SECONDS,
    );
    return challenge;
  }

  private async takeChallenge(challenge: string): Promise<ChallengeTicket | undefined> {
    const value = await this.tickets.take(this.ticketKey(challenge));
    if (value === undefined) return undefined;
    try {
      return JSON.parse(value) as ChallengeTicket;
    } catch {
      return undefined;
    }
  }

  /** The TicketStore key of a challenge: `wa:` and an HMAC of it, so Redis never holds the challenge itself. */
  private ticketKey(challenge: string): string {
    return `wa:${this.challengeKeys.mac(challenge, 32)}`;
  }
}

function toView(row: WebauthnCredentialRow): PasskeyView {
  return {
    id: row.id,
    name: row.name,
    createdAt: row.createdAt.toISOString(),
    lastUsedAt: row.lastUsedAt ? row.lastUsedAt.toISOString() : null,
    backedUp: row.backedUp,
  };
}
