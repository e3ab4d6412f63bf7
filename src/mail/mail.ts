/** The mails Tessera sends; each is a set of files in MAIL_TEMPLATES_DIR. */
export const MAIL_TEMPLATES = ['verify-email', 'reset-password', 'confirm-email-change', 'email-changed'] as const;

export type MailTemplate = (typeof MAIL_TEMPLATES)[number];

/** A mail to send: which template, to whom, and the values its placeholders take. */
export interface MailRequest {
  to: string;
  template: MailTemplate;
  /** Placeholder values, e.g. `link` (the whole URL, token included), `email`, `newEmail`, `expiresIn`. */
  variables: Record<string, string>;
}
