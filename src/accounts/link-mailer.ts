import { Injectable } from '@nestjs/common';
import type { Database } from '../database/database.js';
import type { LinkPurpose } from '../database/schema.js';
import type { MailTemplate } from '../mail/mail.js';
import { MailService } from '../mail/mail.service.js';
import { type AccountRequest, AccountLinks, humanDuration } from './account-links.js';
import { LinkTokenCodec } from './link-token.js';
import { LinkTokensRepository } from './link-tokens.repository.js';

/** One kind of mailed link: what it may do, which page it opens, which mail carries it, how long it lives. */
interface LinkKind {
  purpose: LinkPurpose;
  page: 'verify-email' | 'reset-password';
  template: MailTemplate;
  ttlSeconds: () => number;
}

/**
 * Makes a mailed link and queues the mail that carries it, in the caller's transaction: a new
 * token, its hash stored for the user (replacing the earlier link of that purpose), bound to the
 * address the mail goes to. The one place verification, reset and email-change links are made.
 */
@Injectable()
export class LinkMailer {
  readonly kinds: Record<'verify' | 'reset' | 'change', LinkKind>;

  constructor(
    private readonly links: LinkTokensRepository,
    private readonly codec: LinkTokenCodec,
    private readonly accountLinks: AccountLinks,
    private readonly mail: MailService,
  ) {
    this.kinds = {
      verify: {
        purpose: 'verify_email',
        page: 'verify-email',
        template: 'verify-email',
        ttlSeconds: () => accountLinks.verificationTtlSeconds,
      },
      reset: {
        purpose: 'reset_password',
        page: 'reset-password',
        template: 'reset-password',
        ttlSeconds: () => accountLinks.resetTtlSeconds,
      },
      // A change is confirmed where a verification is: the link proves the new mailbox.
      change: {
        purpose: 'change_email',
        page: 'verify-email',
        template: 'confirm-email-change',
        ttlSeconds: () => accountLinks.verificationTtlSeconds,
      },
    };
  }

  /** `to` is the address the link is bound to; `variables` adds to link, email and expiresIn. */
  async send(
    kind: LinkKind,
    user: { id: string; email: string },
    to: string,
    request: AccountRequest,
    executor: Database,
    variables: Record<string, string> = {},
  ): Promise<void> {
    const { token, hash } = this.codec.make(kind.purpose);
    const ttl = kind.ttlSeconds();
    await this.links.put(user.id, kind.purpose, hash, to, ttl, executor);
    await this.mail.send(
      {
        to,
        template: kind.template,
        variables: {
          link: this.accountLinks.link(kind.page, token, request),
          email: user.email,
          expiresIn: humanDuration(ttl),
          ...variables,
        },
      },
      executor,
    );
  }
}
