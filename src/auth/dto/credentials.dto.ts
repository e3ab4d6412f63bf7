import { applyDecorators } from '@nestjs/common';
import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { Transform } from 'class-transformer';
import { normaliseEmail, SAFE_EMAIL_TEXT } from '../../common/email.js';
import { IsEmail, IsIn, IsObject, IsOptional, IsString, Matches, MaxLength, ValidateIf } from 'class-validator';

/**
 * Passwords that are only verified (login, currentPassword) are bounded here, far above the
 * policy's 1024, only to bound the work one request can cause. New passwords carry no length rule
 * here: PasswordPolicy decides and answers 400 `weak_password`.
 */
export const VERIFIED_PASSWORD_MAX = 4096;

/** What the API description says of every new password (the policy itself is PasswordPolicy). */
export const NEW_PASSWORD_POLICY =
  'NFKC-normalised, then: at least PASSWORD_MIN_LENGTH characters (default 15) and at most 1024 (code points); not one of ' +
  'the most common passwords; not containing the email address, its local part (4 characters or more) or the service name ' +
  '(case-insensitive). No composition rules. A refusal is 400 `weak_password` naming this field.';

/*
 * class-validator runs a property's decorators bottom-up and stops at the first failure
 * (stopAtFirstError), so the type check sits at the bottom and is reported first.
 */

/** Emails are normalised (trimmed, lower-cased, NFC) before validation, so " Ada@Example.com" is ada@example.com. */
export const NormaliseEmail = () =>
  Transform(({ value }: { value: unknown }) => (typeof value === 'string' ? normaliseEmail(value) : value));
/**
 * Lone UTF-16 surrogates cannot be encoded (they would become U+FFFD, so two different passwords
 * could verify alike, and validator's isEmail throws on them): refused with 400.
 */
export const WellFormed = () =>
  Matches(/^(?:[^\uD800-\uDFFF]|[\uD800-\uDBFF][\uDC00-\uDFFF])*$/, { message: '$property must be well-formed Unicode text' });
/** The one rule of common/email.ts (controls, invisible, bidirectional, default-ignorable, spaces): 400 on every email field. */
export const NoInvisibleCharacters = () =>
  Matches(SAFE_EMAIL_TEXT, { message: '$property must not contain control, invisible, space or bidirectional characters' });
/**
 * Every email field that names an address to create, mail or move to: normalised, then checked as
 * a string, well-formed, at most 254 characters, free of invisible characters, an email address.
 * Listed in reverse: applyDecorators applies them in order, as stacked decorators apply bottom-up.
 */
export const EmailAddressField = () =>
  applyDecorators(
    IsString(),
    WellFormed(),
    MaxLength(254),
    NoInvisibleCharacters(),
    IsEmail({}, { message: '$property must be an email address' }),
    NormaliseEmail(),
  );

export class RegisterDto {
  @ApiProperty({ example: 'ada@example.com', description: 'Trimmed, lower-cased and NFC-normalised; unique', maxLength: 254 })
  @EmailAddressField()
  email: string;

  @ApiProperty({ example: 'correct horse battery staple', description: NEW_PASSWORD_POLICY })
  @WellFormed()
  @IsString()
  password: string;
}

export class LoginDto {
  @ApiProperty({ example: 'ada@example.com' })
  @NormaliseEmail()
  @NoInvisibleCharacters()
  @MaxLength(254)
  @WellFormed()
  @IsString()
  email: string;

  @ApiProperty({
    example: 'correct horse battery staple',
    description: 'Verified in its NFKC form (no truncation, no case folding); the password policy is not applied at login',
    maxLength: VERIFIED_PASSWORD_MAX,
  })
  @MaxLength(VERIFIED_PASSWORD_MAX)
  @WellFormed()
  @IsString()
  password: string;

  @ApiPropertyOptional({
    enum: ['browser', 'native'],
    default: 'browser',
    description: '`native` returns the refresh token in the body instead of a cookie',
  })
  @IsOptional()
  @IsIn(['browser', 'native'])
  client?: 'browser' | 'native';

  @ApiPropertyOptional({
    description:
      'Native clients only: the `deviceToken` from an earlier login of this account. It exempts the client from the per-account ' +
      'lockout that failed attempts by others can cause. Browsers hold it as an HttpOnly cookie instead.',
  })
  @IsOptional()
  @MaxLength(100)
  @IsString()
  deviceToken?: string;
}

export class RefreshTokenBodyDto {
  @ApiPropertyOptional({
    // No example: Swagger UI would send it in place of the browser's cookie.
    description:
      'Native clients only: the refresh token from the login/refresh body. Browsers omit it: the HttpOnly cookie is sent instead.',
  })
  // Absent is fine (the cookie is used); present means a string: null is refused, not read as "absent".
  @ValidateIf((_body, value) => value !== undefined)
  @MaxLength(200)
  @IsString()
  refreshToken?: string;
}

/** A TOTP code as typed: six digits, spaces allowed (bounded here only to bound the work). */
export const CODE_MAX = 16;
/** A recovery code as typed: `XXXX-XXXX-XXXX`, any case, spaces or dashes. */
export const RECOVERY_CODE_MAX = 64;

/**
 * Absent is fine; present means a string of at most `max` characters (null is refused, not read as
 * "absent"). In reverse, like EmailAddressField: the type check is reported first.
 */
const OptionalText = (max: number) =>
  applyDecorators(
    IsString(),
    MaxLength(max),
    ValidateIf((_body: object, value: unknown) => value !== undefined),
  );

/**
 * POST /auth/reauthenticate: `{password}`, `{code}`, `{password, code}` or `{password, recoveryCode}`
 * or `{response}` (a passkey assertion); the controller refuses other combinations with 400 naming the field.
 */
export class ReauthenticateDto {
  @ApiPropertyOptional({
    example: 'correct horse battery staple',
    description:
      'The account password, verified like a login password. Alone: aal1; with `code` or `recoveryCode`: aal2. ' +
      'Not together with `response`.',
    maxLength: VERIFIED_PASSWORD_MAX,
  })
  @ValidateIf((_body, value) => value !== undefined)
  @MaxLength(VERIFIED_PASSWORD_MAX)
  @WellFormed()
  @IsString()
  password?: string;

  @ApiPropertyOptional({
    example: '123456',
    description: 'The current code of the authenticator app (TOTP must be enabled). Alone: amr ["otp"], aal1; with `password`: aal2.',
    maxLength: CODE_MAX,
  })
  @OptionalText(CODE_MAX)
  code?: string;

  @ApiPropertyOptional({
    example: 'ABCD-EFGH-JKMN',
    description: 'One of the recovery codes, used up; only together with `password` (aal2).',
    maxLength: RECOVERY_CODE_MAX,
  })
  @OptionalText(RECOVERY_CODE_MAX)
  recoveryCode?: string;

  @ApiPropertyOptional({
    description:
      "A passkey assertion: the credential's `toJSON()` from `navigator.credentials.get()` with the options of " +
      '`POST /auth/reauthenticate/options`. Alone: worth what the passkey proved (aal2 when the user was verified).',
    type: 'object',
    additionalProperties: true,
  })
  @ValidateIf((body: ReauthenticateDto) => body.response !== undefined)
  @IsObject()
  response?: Record<string, unknown>;

  @ApiPropertyOptional({
    description:
      'Native clients only: the `deviceToken` from an earlier login of this account, which exempts the reauthentication from a ' +
      'lockout that failed attempts by others caused, as at login. Browsers hold it as an HttpOnly cookie instead.',
  })
  @IsOptional()
  @MaxLength(100)
  @IsString()
  deviceToken?: string;
}

export class ChangePasswordDto {
  @ApiProperty({ example: 'correct horse battery staple', description: 'Verified like a login password', maxLength: VERIFIED_PASSWORD_MAX })
  @MaxLength(VERIFIED_PASSWORD_MAX)
  @WellFormed()
  @IsString()
  currentPassword: string;

  @ApiProperty({ example: 'staple tuning fork lamp shade', description: NEW_PASSWORD_POLICY })
  @WellFormed()
  @IsString()
  newPassword: string;
}

/** POST /auth/login/mfa: the second step of a login, with exactly one of `code` and `recoveryCode`. */
export class MfaLoginDto {
  @ApiProperty({ description: 'The `mfaToken` of the first step (POST /auth/login); single-use, 5 minutes', maxLength: 64 })
  @MaxLength(64)
  @IsString()
  mfaToken: string;

  @ApiPropertyOptional({ example: '123456', description: 'The current code of the authenticator app', maxLength: CODE_MAX })
  @OptionalText(CODE_MAX)
  code?: string;

  @ApiPropertyOptional({
    example: 'ABCD-EFGH-JKMN',
    description: 'One of the recovery codes instead; used up',
    maxLength: RECOVERY_CODE_MAX,
  })
  @OptionalText(RECOVERY_CODE_MAX)
  recoveryCode?: string;
}

/** POST /auth/mfa/totp/confirm. */
export class ConfirmTotpDto {
  @ApiProperty({ example: '123456', description: 'The current code the authenticator app shows for the new entry', maxLength: CODE_MAX })
  @MaxLength(CODE_MAX)
  @IsString()
  code: string;
}
