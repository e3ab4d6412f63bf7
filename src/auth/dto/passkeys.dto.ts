import { applyDecorators } from '@nestjs/common';
import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { Transform } from 'class-transformer';
import { IsIn, IsObject, IsOptional, IsString, Matches, MaxLength, MinLength } from 'class-validator';
import { PASSKEY_NAME_MAX } from '../passkeys/passkeys.service.js';
import { WellFormed } from './credentials.dto.js';

/** What `PublicKeyCredential.toJSON()` gives; checked in depth by PasskeysService (400 naming `response`). */
export const CREDENTIAL_JSON_DESCRIPTION =
  "The credential as the browser's `credential.toJSON()` gives it (from `navigator.credentials.create()` or `.get()` with the options " +
  'parsed by `PublicKeyCredential.parseCreationOptionsFromJSON` / `parseRequestOptionsFromJSON`)';

/** A passkey's name: trimmed, 1 to 64 characters, no control or format characters. */
const PasskeyName = () =>
  applyDecorators(
    IsString(),
    WellFormed(),
    MinLength(1),
    MaxLength(PASSKEY_NAME_MAX),
    Matches(/^[^\p{Cc}\p{Cf}\p{Zl}\p{Zp}]*$/u, { message: '$property must not contain control or invisible characters' }),
    Transform(({ value }: { value: unknown }) => (typeof value === 'string' ? value.trim() : value)),
  );

const REGISTRATION_EXAMPLE = {
  id: 'hV8kQ0m2Yw3tC1nR5sJ7aQ',
  rawId: 'hV8kQ0m2Yw3tC1nR5sJ7aQ',
  type: 'public-key',
  response: {
    clientDataJSON: 'eyJ0eXBlIjoid2ViYXV0aG4uY3JlYXRlIiwi…',
    attestationObject: 'o2NmbXRkbm9uZWdhdHRTdG10oGhhdXRoRGF0YVi…',
    transports: ['internal'],
  },
  clientExtensionResults: {},
  authenticatorAttachment: 'platform',
};

const ASSERTION_EXAMPLE = {
  id: 'hV8kQ0m2Yw3tC1nR5sJ7aQ',
  rawId: 'hV8kQ0m2Yw3tC1nR5sJ7aQ',
  type: 'public-key',
  response: {
    clientDataJSON: 'eyJ0eXBlIjoid2ViYXV0aG4uZ2V0Iiwi…',
    authenticatorData: 'SZYN5YgOjGh0NBcPZHZgW4_krrmihjLHmVzzuoMdl2MFAAAAAQ',
    signature: 'MEUCIQD…',
    userHandle: 'NmI1ZjY4YTAtOWQ0Zi00ZTQ2LWE2ZjQtMWE0YjJkM2U1ZjYw',
  },
  clientExtensionResults: {},
  authenticatorAttachment: 'platform',
};

export class RegisterPasskeyDto {
  @ApiProperty({ description: CREDENTIAL_JSON_DESCRIPTION, type: 'object', additionalProperties: true, example: REGISTRATION_EXAMPLE })
  @IsObject()
  response: Record<string, unknown>;

  @ApiPropertyOptional({
    description: `A name for the list, 1 to ${PASSKEY_NAME_MAX} characters (trimmed); default "Passkey"`,
    example: 'Laptop',
  })
  @IsOptional()
  @PasskeyName()
  name?: string;
}

export class RenamePasskeyDto {
  @ApiProperty({ description: `1 to ${PASSKEY_NAME_MAX} characters (trimmed)`, example: 'Work laptop', maxLength: PASSKEY_NAME_MAX })
  @PasskeyName()
  name: string;
}

export class PasskeyLoginDto {
  @ApiProperty({ description: CREDENTIAL_JSON_DESCRIPTION, type: 'object', additionalProperties: true, example: ASSERTION_EXAMPLE })
  @IsObject()
  response: Record<string, unknown>;

  @ApiPropertyOptional({
    enum: ['browser', 'native'],
    default: 'browser',
    description: '`native` returns the refresh token in the body instead of a cookie',
  })
  @IsOptional()
  @IsIn(['browser', 'native'])
  client?: 'browser' | 'native';
}

export class PasskeyDto {
  @ApiProperty({ description: 'The credential id (base64url)', example: 'hV8kQ0m2Yw3tC1nR5sJ7aQ' })
  id: string;

  @ApiProperty({ example: 'Laptop' })
  name: string;

  @ApiProperty({ format: 'date-time', example: '2026-11-25T10:00:00.000Z' })
  createdAt: string;

  @ApiProperty({ format: 'date-time', nullable: true, type: String, example: null, description: 'Last login or reauthentication with it' })
  lastUsedAt: string | null;

  @ApiProperty({ description: 'Backed up (synced to other devices by its provider): worth `swk` rather than `hwk`', example: false })
  backedUp: boolean;
}

/** Examples of the options (what `generateRegistrationOptions` / `generateAuthenticationOptions` answer). */
export const CREATION_OPTIONS_EXAMPLE = {
  challenge: 'pZx0yT0xQ9c3d8Yg2kN1v7bQ4uJm6sFh0aR2wE5tL8o',
  rp: { name: 'Tessera', id: 'auth.example.com' },
  user: { id: 'NmI1ZjY4YTAtOWQ0Zi00ZTQ2LWE2ZjQtMWE0YjJkM2U1ZjYw', name: 'ada@example.com', displayName: 'ada@example.com' },
  pubKeyCredParams: [
    { alg: -8, type: 'public-key' },
    { alg: -7, type: 'public-key' },
    { alg: -257, type: 'public-key' },
  ],
  timeout: 120000,
  attestation: 'none',
  excludeCredentials: [],
  authenticatorSelection: { residentKey: 'required', requireResidentKey: true, userVerification: 'preferred' },
  extensions: { credProps: true },
  hints: [],
};

export const REQUEST_OPTIONS_EXAMPLE = {
  rpId: 'auth.example.com',
  challenge: 'pZx0yT0xQ9c3d8Yg2kN1v7bQ4uJm6sFh0aR2wE5tL8o',
  timeout: 120000,
  userVerification: 'preferred',
  allowCredentials: [],
};
