import { afterAll, beforeAll, describe, expect, test } from '@jest/globals';
import { cpSync, mkdtempSync, rmSync, unlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ConfigError } from '../config/config-error.js';
import { MAIL_TEMPLATES } from './mail.js';
import { escapeHtml, MailTemplates, placeholdersOf, substitute } from './templates.js';

const SHIPPED = fileURLToPath(new URL('../../mail-templates', import.meta.url));

describe('substitute', () => {
  test('replaces placeholders, tolerating spaces inside the braces', () => {
    expect(substitute('Hi {{name}}, {{ name }}!', { name: 'Ada' }, false)).toBe('Hi Ada, Ada!');
  });

  test('escapes values in HTML, and only values', () => {
    const html = substitute(
      '<a href="{{link}}">{{name}}</a>',
      { link: 'https://x.test/?a=1&b="2"', name: `<script>O'Neil</script>` },
      true,
    );
    expect(html).toBe('<a href="https://x.test/?a=1&amp;b=&quot;2&quot;">&lt;script&gt;O&#39;Neil&lt;/script&gt;</a>');
  });

  test('leaves text values as they are', () => {
    expect(substitute('{{v}}', { v: '<b>&' }, false)).toBe('<b>&');
  });

  test('throws for a placeholder without a value (never a mail with a hole)', () => {
    expect(() => substitute('{{link}}', {}, false)).toThrow('{{link}}');
    // Not an inherited property either.
    expect(() => substitute('{{toString}}', {}, false)).toThrow('{{toString}}');
  });

  test('escapeHtml and placeholdersOf', () => {
    expect(escapeHtml(`&<>"'`)).toBe('&amp;&lt;&gt;&quot;&#39;');
    expect(placeholdersOf('{{a}} {{b}} {{ a }} {b}')).toEqual(['a', 'b']);
  });
});

describe('MailTemplates', () => {
  let dir: string;
  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'tessera-templates-'));
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  const copy = (name: string) => {
    const target = join(dir, name);
    cpSync(SHIPPED, target, { recursive: true });
    return target;
  };

  test('the shipped templates load and render every template with its link and product name', async () => {
    const templates = await MailTemplates.load(SHIPPED);
    for (const template of MAIL_TEMPLATES) {
      const link = 'https://app.example.com/x?token=abc&next=%2F';
      const mail = templates.render(template, {
        productName: 'Acme <ID>',
        email: 'old@example.com',
        newEmail: 'new@example.com',
        link,
        expiresIn: '30 minutes',
      });
      expect(mail.subject).toContain('Acme <ID>');
      expect(mail.subject).not.toMatch(/[\r\n]/);
      expect(mail.text).toContain('Acme <ID>');
      expect(mail.html).toContain('Acme &lt;ID&gt;');
      expect(mail.html).not.toContain('Acme <ID>');
      if (template === 'email-changed') {
        expect(mail.text).not.toContain('https://');
        expect(mail.text).toContain('new@example.com');
        expect(mail.html).toContain('new@example.com');
      } else {
        expect(mail.text).toContain(link);
        expect(mail.html).toContain('href="https://app.example.com/x?token=abc&amp;next=%2F"');
        expect(mail.text).toContain('30 minutes');
      }
      expect(mail.html).toMatch(/^<!doctype html>\n<html lang="en">/);
    }
  });

  test('an unknown placeholder is one start-up error naming MAIL_TEMPLATES_DIR and the file', async () => {
    const target = copy('typo');
    writeFileSync(join(target, 'reset-password', 'text.txt'), 'Open {{lnk}}\n');
    const error = await MailTemplates.load(target).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ConfigError);
    expect((error as ConfigError).variable).toBe('MAIL_TEMPLATES_DIR');
    expect((error as Error).message).toContain(join('reset-password', 'text.txt'));
    expect((error as Error).message).toContain('{{lnk}}');
  });

  test('a placeholder allowed elsewhere but not in this template is refused', async () => {
    const target = copy('no-link');
    writeFileSync(join(target, 'email-changed', 'html.html'), '<p>{{link}}</p>\n');
    await expect(MailTemplates.load(target)).rejects.toThrow('{{link}}');
  });

  test('a missing file is one start-up error', async () => {
    const target = copy('missing');
    unlinkSync(join(target, 'verify-email', 'subject.txt'));
    const error = await MailTemplates.load(target).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ConfigError);
    expect((error as Error).message).toContain(join('verify-email', 'subject.txt'));
  });
});
