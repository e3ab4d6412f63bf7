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

/**
 * The `mfaToken` between a login's password step and its second factor: 256 random bits handed
 * to the client, stored only as an HMAC (SERVER_SECRETS purpose `mfa-token`) in the TicketStore,
 * so a copy of Redis holds nothing a client could present. Lives MFA_TOKEN_TTL_SECONDS, is taken
 * (atomically, on every instance) by the one step that succeeds, and dies after
 * MFA_TOKEN_MAX_FAILURES wrong codes.
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
    await this.store.put(this.key(token), JSON.stringify(ticket), this.ttlSeconds);
    return token;
  }

  /** The ticket without using it up; undefined when unknown, expired, used or dead. */
  async peek(token: unknown): Promise<MfaTicket | undefined> {
    const key = this.keyOf(token);
    return key === undefined ? undefined : parse(await this.store.peek(key));
  }

  /** Uses the ticket up: of two steps presenting it, exactly one gets it. */
  async take(token: unknown): Promise<MfaTicket | undefined> {
    const key = this.keyOf(token);
    return key === undefined ? undefined : parse(await this.store.take(key));
  }

  /** Counts a wrong code; the ticket dies at MFA_TOKEN_MAX_FAILURES. Returns the failures so far. */
  async fail(token: unknown): Promise<number> {
    const key = this.keyOf(token);
    return key === undefined ? 0 : this.store.fail(key, MFA_TOKEN_MAX_FAILURES);
  }

  /** Only what `issue` can have made (43 base64url characters) is looked up. */
  private keyOf(token: unknown): string | undefined {
    return typeof token === 'string' && /^[A-Za-z0-9_-]{43}$/.test(token) ? this.key(token) : undefined;
  }

  private key(token: string): string {
    return `mfa:${this.keys.mac(token, 32)}`;
  }
}

function parse(value: string | undefined): MfaTicket | undefined {
  if (value === undefined) return undefined;
  const ticket = JSON.parse(value) as MfaTicket;
  return typeof ticket.userId === 'string' ? ticket : undefined;
}
