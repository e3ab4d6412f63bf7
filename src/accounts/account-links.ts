import { Inject, Injectable } from '@nestjs/common';
import type { ConfigType } from '@nestjs/config';
import type { FastifyRequest } from 'fastify';
import type { RequestContext } from '../audit/security-event.js';
import { clientInfo } from '../auth/client-info.js';
import { normaliseEmail } from '../common/email.js';
import { accountsConfig, appConfig } from '../config/configuration.js';
import { ServerSecrets } from '../secrets/server-secrets.js';
import { RateLimiter } from '../throttling/rate-limit.js';

/** What the account services need to know about the request: where it came from, and its own origin. */
export interface AccountRequest extends RequestContext {
  /** `protocol://host` of the request, for links when neither APP_URL nor PUBLIC_ORIGIN is set. */
  origin: string;
}

export function accountRequest(request: FastifyRequest): AccountRequest {
  return { ...clientInfo(request), origin: `${request.protocol}://${request.host}` };
}

/** Which per-account mail allowance a mail draws on. */
export type MailKind = 'verify' | 'reset' | 'change';

/**
 * Links in mails and how often an address may be mailed: policy shared by the account services.
 * Links point to `{APP_URL}/<page>?token=…`; without APP_URL (development) to this server's demo
 * page, `{PUBLIC_ORIGIN or the request's origin}/demo/<page>?token=…`.
 */
@Injectable()
export class AccountLinks {
  constructor(
    @Inject(accountsConfig.KEY) private readonly accounts: ConfigType<typeof accountsConfig>,
    @Inject(appConfig.KEY) private readonly app: ConfigType<typeof appConfig>,
    private readonly limiter: RateLimiter,
    private readonly secrets: ServerSecrets,
  ) {}

  link(page: 'verify-email' | 'reset-password', token: string, request: AccountRequest): string {
    const base = this.accounts.appUrl ?? `${this.app.publicOrigin ?? request.origin}/demo`;
    return `${base}/${page}?token=${encodeURIComponent(token)}`;
  }

  /**
   * Counts a mail of `kind` to `email` (a MAC of the normalised address, never the address) and says
   * whether it is within MAIL_ACCOUNT_LIMIT per MAIL_ACCOUNT_WINDOW. Counted whether or not the
   * account exists, so the cap behaves (and costs) alike for every address.
   */
  withinCap(kind: MailKind, email: string): Promise<boolean> {
    return this.limiter.withinCap(
      `mail-account-${kind}`,
      this.secrets.identifier('mail-account', normaliseEmail(email)),
      this.accounts.mailsPerAccount,
      this.accounts.mailAccountWindowSeconds * 1000,
    );
  }

  /** The window of the per-address mail allowance (MAIL_ACCOUNT_WINDOW). */
  get capWindowSeconds(): number {
    return this.accounts.mailAccountWindowSeconds;
  }

  get verificationTtlSeconds(): number {
    return this.accounts.emailVerificationTtlSeconds;
  }

  get resetTtlSeconds(): number {
    return this.accounts.passwordResetTtlSeconds;
  }
}

/** A lifetime for people: "30 minutes", "24 hours", "7 days", "45 seconds". */
export function humanDuration(seconds: number): string {
  const unit = (n: number, name: string) => `${n} ${name}${n === 1 ? '' : 's'}`;
  if (seconds < 120 && seconds % 60 !== 0) return unit(seconds, 'second');
  if (seconds < 2 * 3600 || seconds % 3600 !== 0) return unit(Math.round(seconds / 60), 'minute');
  if (seconds < 2 * 86400 || seconds % 86400 !== 0) return unit(Math.round(seconds / 3600), 'hour');
  return unit(seconds / 86400, 'day');
}
