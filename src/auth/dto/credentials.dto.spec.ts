import { describe, expect, test } from '@jest/globals';
import { plainToInstance } from 'class-transformer';
import { validate } from 'class-validator';
import { parseAuthConfig } from '../../config/configuration.js';
import { ConfigError } from '../../config/config-error.js';
import { normaliseEmail } from '../../common/email.js';
import { LoginDto, RegisterDto } from './credentials.dto.js';

const PASSWORD = 'correct horse battery';
/** Invisible or blank on screen, so one address can pass for another (review F7). */
const LOOKALIKES = [
  '\u115F',
  '\u1160',
  '\u3164',
  '\uFFA0',
  '\u034F',
  '\uFE0F',
  '\u17B4',
  '\u2800',
  '\u2000',
  '\u3000',
  '\u00A0',
  '\u200B',
  '\u00AD',
];

async function errorsOf(dto: typeof RegisterDto | typeof LoginDto, email: string): Promise<string[]> {
  const instance = plainToInstance(dto, { email, password: PASSWORD });
  return (await validate(instance, { stopAtFirstError: true })).map((e) => e.property);
}

describe('emails: one rule for every email field and BOOTSTRAP_ADMIN_EMAIL', () => {
  test.each(LOOKALIKES.map((c) => [`U+${c.codePointAt(0)!.toString(16).toUpperCase().padStart(4, '0')}`, c]))(
    '%s is refused (register, login, config)',
    async (_name, c) => {
      const email = `adm${c}in@example.com`;
      expect(await errorsOf(RegisterDto, email)).toEqual(['email']);
      expect(await errorsOf(LoginDto, email)).toEqual(['email']);
      expect(() => parseAuthConfig({ BOOTSTRAP_ADMIN_EMAIL: email, BOOTSTRAP_ADMIN_PASSWORD: PASSWORD })).toThrow(ConfigError);
    },
  );

  test('NFC before validation and storage: a composed and a decomposed é are one address', async () => {
    const composed = 'ren\u00E9@example.com';
    const decomposed = 'rene\u0301@example.com';
    expect(normaliseEmail(decomposed)).toBe(composed);
    expect(normaliseEmail(` ${decomposed.toUpperCase()} `)).toBe(composed);
    const dto = plainToInstance(RegisterDto, { email: decomposed, password: PASSWORD });
    expect(await validate(dto)).toEqual([]);
    expect(dto.email).toBe(composed);
    expect(plainToInstance(LoginDto, { email: decomposed, password: PASSWORD }).email).toBe(composed);
    expect(parseAuthConfig({ BOOTSTRAP_ADMIN_EMAIL: decomposed, BOOTSTRAP_ADMIN_PASSWORD: PASSWORD }).bootstrapAdmin?.email).toBe(composed);
  });

  test('ordinary addresses pass', async () => {
    for (const email of ['ada@example.com', 'Ada.Lovelace+x@Example.COM', 'josé@exämple.com']) {
      expect(await errorsOf(RegisterDto, email)).toEqual([]);
      expect(await errorsOf(LoginDto, email)).toEqual([]);
    }
  });
});
