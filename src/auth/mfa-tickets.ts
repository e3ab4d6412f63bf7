import { randomBytes } from 'node:crypto';
import { Inject, Injectable } from '@nestjs/common';
import { type PurposeKeys, ServerSecrets } from '../secrets/server-secrets.js';
import { TICKET_STORE, type TicketStore } from '../tickets/ticket-store.js';

/** How long the second step of a login may wait for its code. */
export const MFA_TOKEN_TTL_SECONDS = 300;
/** Wrong codes an mfaToken survives: the fifth ends it. */
export const MFA_TOKEN_MAX_FAILURES = 5;

/** What the first step of a login proved, carried to the second. */
export interface MfaTicket {
  userId: string;
  /** `client: "native"`: the tokens go in the body, not in cookies. */
  native: boolean;
  /** The login presented a valid device token of the account (recorded with the login). */
  deviceKnown: boolean;
  /** When the password was checked (epoch ms). */
  passwordAt: number;
}

/** A ticket as stored: what the first step proved, its wrong codes so far, when it dies. */
export interface StoredMfaTicket extends MfaTicket {
  failures: number;
  expiresAt: number;
}

/**
 * The `mfaToken` between a login's password step and its second factor: 256 random bits handed
 * to the client, stored only as an HMAC (SERVER_SECRETS purpose `mfa-token`) in the TicketStore,
 * so a copy of Redis holds nothing a client could present. Lives MFA_TOKEN_TTL_SECONDS and dies
 * after MFA_TOKEN_MAX_FAILURES wrong codes. A second step *takes* the ticket (atomically, on every
 * instance) before its code is checked, so one code at a time is checked per ticket: parallel
 * wrong codes cannot outrun the limit, and codes racing on one ticket are not used up for logins
 * that then fail. A wrong code puts it back with one more failure (`putBack`).
 */
@Injectable()
export class MfaTickets {
  private readonly keys: PurposeKeys;
  /** MFA_TOKEN_TTL_SECONDS; tests shorten it to see a ticket expire without waiting five minutes. */
  ttlSeconds = MFA_TOKEN_TTL_SECONDS;

  constructor(
    @Inject(TICKET_STORE) private readonly store: TicketStore,
    secrets: ServerSecrets,
  ) {
    this.keys = secrets.for('mfa-token');
  }

  async issue(ticket: MfaTicket): Promise<string> {
    const token = randomBytes(32).toString('base64url');
    const stored: StoredMfaTicket = { ...ticket, failures: 0, expiresAt: Date.now() + this.ttlSeconds * 1000 };
    await this.store.put(this.key(token), JSON.stringify(stored), this.ttlSeconds);
    return token;
  }

  /** Takes the ticket (of two steps presenting it, exactly one gets it); undefined when unknown, expired, taken or dead. */
  async take(token: unknown): Promise<StoredMfaTicket | undefined> {
    const key = this.keyOf(token);
    return key === undefined ? undefined : parse(await this.store.take(key));
  }

  /**
   * Hands a taken ticket back for another try, with one more failure when its code was wrong; at
   * MFA_TOKEN_MAX_FAILURES, or past its expiry, it stays gone.
   */
  async putBack(token: string, ticket: StoredMfaTicket, { wrongCode }: { wrongCode: boolean }): Promise<void> {
    const failures = ticket.failures + (wrongCode ? 1 : 0);
    const ttlSeconds = Math.ceil((ticket.expiresAt - Date.now()) / 1000);
    if (failures >= MFA_TOKEN_MAX_FAILURES || ttlSeconds <= 0) return;
    await this.store.put(this.key(token), JSON.stringify({ ...ticket, failures }), ttlSeconds);
  }

  /** Only what `issue` can have made (43 base64url characters) is looked up. */
  private keyOf(token: unknown): string | undefined {
    return typeof token === 'string' && /^[A-Za-z0-9_-]{43}$/.test(token) ? this.key(token) : undefined;
  }

  private key(token: string): string {
    return `mfa:${this.keys.mac(token, 32)}`;
  }
}

function parse(value: string | undefined): StoredMfaTicket | undefined {
  if (value === undefined) return undefined;
  const ticket = JSON.parse(value) as StoredMfaTicket;
  return typeof ticket.userId === 'string' && Number.isSafeInteger(ticket.failures) && Number.isSafeInteger(ticket.expiresAt)
    ? ticket
    : undefined;
}
