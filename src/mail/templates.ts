import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { ConfigError } from '../config/config-error.js';
import { MAIL_TEMPLATES, type MailTemplate } from './mail.js';

/** A mail ready to send, before any addressing. */
export interface RenderedMail {
  subject: string;
  text: string;
  html: string;
}

/** The files of one template, in `MAIL_TEMPLATES_DIR/<template>/`. */
export const TEMPLATE_FILES = { subject: 'subject.txt', text: 'text.txt', html: 'html.html' } as const;

/**
 * The placeholders each template may use. `productName` comes from MAIL_PRODUCT_NAME and `email`
 * defaults to the recipient; the others are what the sender passes in `MailRequest.variables`.
 * A placeholder outside its template's list is refused at start-up, so a typo in a team's copy of
 * the templates stops the server instead of mailing users a blank.
 */
export const TEMPLATE_VARIABLES: Record<MailTemplate, readonly string[]> = {
  'verify-email': ['productName', 'email', 'link', 'expiresIn'],
  'reset-password': ['productName', 'email', 'link', 'expiresIn'],
  'confirm-email-change': ['productName', 'email', 'newEmail', 'link', 'expiresIn'],
  'email-changed': ['productName', 'email', 'newEmail'],
};

const PLACEHOLDER = /\{\{\s*([A-Za-z][A-Za-z0-9]*)\s*\}\}/g;

/** What `<`, `&`, quotes… become in HTML text and attribute values. */
const HTML_ESCAPES: Record<string, string> = { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' };

export function escapeHtml(value: string): string {
  return value.replace(/[&<>"']/g, (c) => HTML_ESCAPES[c]);
}

/** Placeholders used in `source`, in order of first appearance. */
export function placeholdersOf(source: string): string[] {
  return [...new Set([...source.matchAll(PLACEHOLDER)].map((m) => m[1]))];
}

/**
 * Replaces each `{{name}}` with its value, escaped for HTML when `html` is true. A placeholder
 * without a value throws: a mail with a hole in it (a missing link) is a bug to surface, not send.
 */
export function substitute(source: string, variables: Record<string, string>, html: boolean): string {
  return source.replace(PLACEHOLDER, (_match, name: string) => {
    const value = Object.hasOwn(variables, name) ? variables[name] : undefined;
    if (value === undefined) throw new Error(`mail placeholder {{${name}}} has no value`);
    return html ? escapeHtml(value) : value;
  });
}

type Sources = Record<keyof typeof TEMPLATE_FILES, string>;

/**
 * The mail templates, read and checked once at start-up.
 *
 * A `{{name}}` substitution of our own rather than a template library: none (handlebars,
 * mustache, eta…) is among the project's dependencies, the templates need no logic, and the one
 * thing that matters, escaping values in the HTML part, is five characters.
 */
export class MailTemplates {
  private constructor(private readonly sources: Map<MailTemplate, Sources>) {}

  /**
   * Reads every template from `dir`. A missing file or an unknown placeholder is one
   * ConfigError naming MAIL_TEMPLATES_DIR (one clear start-up line).
   */
  static async load(dir: string): Promise<MailTemplates> {
    const sources = new Map<MailTemplate, Sources>();
    for (const template of MAIL_TEMPLATES) {
      const files = {} as Sources;
      for (const [part, file] of Object.entries(TEMPLATE_FILES) as [keyof Sources, string][]) {
        const path = join(dir, template, file);
        try {
          files[part] = await readFile(path, 'utf8');
        } catch (error) {
          throw new ConfigError('MAIL_TEMPLATES_DIR', `has no readable ${path} (${(error as NodeJS.ErrnoException).code ?? 'error'})`);
        }
        const unknown = placeholdersOf(files[part]).filter((name) => !TEMPLATE_VARIABLES[template].includes(name));
        if (unknown.length > 0) {
          throw new ConfigError(
            'MAIL_TEMPLATES_DIR',
            `template ${path} uses unknown placeholder(s) ${unknown.map((n) => `{{${n}}}`).join(', ')} (it may use ${TEMPLATE_VARIABLES[template].map((n) => `{{${n}}}`).join(', ')})`,
          );
        }
      }
      sources.set(template, files);
    }
    return new MailTemplates(sources);
  }

  /** Builds from sources in memory (unit tests). */
  static of(sources: Record<MailTemplate, Sources>): MailTemplates {
    return new MailTemplates(new Map(Object.entries(sources) as [MailTemplate, Sources][]));
  }

  render(template: MailTemplate, variables: Record<string, string>): RenderedMail {
    const sources = this.sources.get(template);
    if (!sources) throw new Error(`unknown mail template ${String(template)}`);
    return {
      // One line: a line break in a header value is never wanted (and a template's trailing newline is not content).
      subject: substitute(sources.subject, variables, false)
        .replace(/\s*[\r\n]+\s*/g, ' ')
        .trim(),
      text: substitute(sources.text, variables, false),
      html: substitute(sources.html, variables, true),
    };
  }
}
