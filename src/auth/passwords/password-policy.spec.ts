import { describe, expect, test } from '@jest/globals';
import { ProblemException } from '../../common/problems/problem.js';
import { parseAccountsConfig, parseMailConfig } from '../../config/configuration.js';
import { PasswordPolicy, type PasswordContext } from './password-policy.js';

const policy = (env: Record<string, string> = {}) => new PasswordPolicy(parseAccountsConfig(env), parseMailConfig(env));

/** The refusal's message, or undefined when the password is accepted. */
function refusal(password: string, context: PasswordContext = { field: 'password' }, p = policy()): string | undefined {
  try {
    p.check(password, context);
    return undefined;
  } catch (error) {
    expect(error).toBeInstanceOf(ProblemException);
    const problem = error as ProblemException;
    expect(problem.getStatus()).toBe(400);
    expect(problem.code).toBe('weak_password');
    expect(problem.errors).toHaveLength(1);
    expect(problem.errors?.[0].field).toBe(context.field);
    // The answer is the field and a fixed rule message (each test names it): the password never comes back.
    expect(problem.detail).toBe(`${context.field}: ${problem.errors?.[0].message}`);
    return problem.errors?.[0].message;
  }
}

const GOOD = 'correct horse battery staple';

describe('PasswordPolicy (NIST SP 800-63B-4)', () => {
  test('an ordinary passphrase passes; no composition rules (all lower-case letters and spaces is fine)', () => {
    expect(refusal(GOOD)).toBeUndefined();
    expect(refusal('mauve kettle drums at noon')).toBeUndefined();
  });

  test('length: PASSWORD_MIN_LENGTH (default 15), counted in code points after NFKC', () => {
    expect(refusal('fourteen chars')).toBe('must be at least 15 characters');
    expect(refusal('fifteen chars!!')).toBeUndefined();
    expect(refusal('eight ch', { field: 'password' }, policy({ PASSWORD_MIN_LENGTH: '8' }))).toBeUndefined();
    expect(refusal('seven c', { field: 'password' }, policy({ PASSWORD_MIN_LENGTH: '8' }))).toBe('must be at least 8 characters');
  });

  test('astral characters (emoji) count as one character each, not two UTF-16 units', () => {
    // 14 emoji: 28 UTF-16 code units, 14 code points: too short.
    const fourteen =
      '\u{1F40E}\u{1F50B}\u{1F4CE}\u{1F34E}\u{1F3B8}\u{1F9ED}\u{1F30B}\u{1F98A}\u{1F9F2}\u{1F3BB}\u{1F52D}\u{1F9C0}\u{1F41D}\u{1F6F6}';
    expect(fourteen.length).toBe(28);
    expect(refusal(fourteen)).toBe('must be at least 15 characters');
    expect(refusal(fourteen + '\u{1F30D}')).toBeUndefined();
  });

  test('at least 256 characters are allowed; 1025 are refused (the maximum bounds argon2 input)', () => {
    const words = 'vivid lantern orbit ';
    const long256 = words.repeat(13).slice(0, 256);
    expect([...long256]).toHaveLength(256);
    expect(refusal(long256)).toBeUndefined();
    expect(refusal(words.repeat(52).slice(0, 1024))).toBeUndefined();
    expect(refusal(words.repeat(52).slice(0, 1025))).toBe('must be at most 1024 characters');
  });

  test('the common-password list refuses, case-insensitively', () => {
    expect(refusal('passwordpassword')).toBe('is one of the most common passwords');
    expect(refusal('PassWordPassWord')).toBe('is one of the most common passwords');
    expect(refusal('1qaz2wsx3edc4rfv')).toBe('is one of the most common passwords');
    expect(refusal('password', { field: 'password' }, policy({ PASSWORD_MIN_LENGTH: '8' }))).toBe('is one of the most common passwords');
    expect(refusal('iloveyou', { field: 'password' }, policy({ PASSWORD_MIN_LENGTH: '8' }))).toBe('is one of the most common passwords');
  });

  test('NFKC before the list: full-width letters are the same common password', () => {
    const fullWidth = '\uFF50\uFF41\uFF53\uFF53\uFF57\uFF4F\uFF52\uFF44\uFF50\uFF41\uFF53\uFF53\uFF57\uFF4F\uFF52\uFF44'; // ｐａｓｓｗｏｒｄｐａｓｓｗｏｒｄ
    expect(fullWidth.normalize('NFKC')).toBe('passwordpassword');
    expect(refusal(fullWidth)).toBe('is one of the most common passwords');
    const eight = '\uFF50\uFF41\uFF53\uFF53\uFF57\uFF4F\uFF52\uFF44'; // ｐａｓｓｗｏｒｄ
    expect(refusal(eight, { field: 'password' }, policy({ PASSWORD_MIN_LENGTH: '8' }))).toBe('is one of the most common passwords');
  });

  test('NFKC before counting: a decomposed é counts as one character, like the composed one', () => {
    const composed = 'caf\u00E9 au lait ok'; // 15 code points
    const decomposed = 'cafe\u0301 au lait ok'; // 16 code points before NFKC
    expect([...composed]).toHaveLength(15);
    expect([...decomposed]).toHaveLength(16);
    expect(refusal(composed)).toBeUndefined();
    expect(refusal(decomposed)).toBeUndefined();
    // One character short either way.
    expect(refusal('caf\u00E9 au lait o')).toBe('must be at least 15 characters');
    expect(refusal('cafe\u0301 au lait o')).toBe('must be at least 15 characters');
  });

  test('the account’s email and its local part are refused anywhere in the password, case-insensitively', () => {
    const context = { email: 'ada.lovelace@example.com', field: 'newPassword' };
    expect(refusal('my ada.lovelace@example.com pw', context)).toBe('must not contain your email address');
    expect(refusal('My ADA.LoveLace secret phrase', context)).toBe('must not contain your email address');
    expect(refusal('lovelace is a fine name here', context)).toBeUndefined();
    expect(refusal('My ADA.LoveLace secret phrase', { field: 'newPassword' })).toBeUndefined();
  });

  test('a local part shorter than 4 characters is no context word (the whole address still is)', () => {
    const context = { email: 'ada@example.com', field: 'password' };
    expect(refusal('ada likes long walks', context)).toBeUndefined();
    expect(refusal('ada@example.com forever', context)).toBe('must not contain your email address');
    expect(refusal('xy ADA@EXAMPLE.COM forever', context)).toBe('must not contain your email address');
  });

  test('the service’s name ("tessera", and MAIL_PRODUCT_NAME when 4 or more characters) is refused, case-insensitively', () => {
    expect(refusal('my TesSera account pass')).toBe('must not contain the name of this service');
    const acme = policy({ MAIL_PRODUCT_NAME: 'Acme Login' });
    expect(refusal('my acme login passphrase', { field: 'password' }, acme)).toBe('must not contain the name of this service');
    expect(refusal('still no tessera in here', { field: 'password' }, acme)).toBe('must not contain the name of this service');
    expect(refusal('acme is just a word here', { field: 'password' }, acme)).toBeUndefined();
    expect(refusal('my abc password phrase', { field: 'password' }, policy({ MAIL_PRODUCT_NAME: 'Abc' }))).toBeUndefined();
  });

  test('full-width context words are caught after NFKC', () => {
    expect(refusal('my \uFF34\uFF25\uFF33\uFF33\uFF25\uFF32\uFF21 account')).toBe('must not contain the name of this service');
  });
});
