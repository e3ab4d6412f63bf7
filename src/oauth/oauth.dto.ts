import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';

/** RFC 7662 §2.1 / RFC 7009 §2.1 request (form body). Documentation only: OAuthService reads the form itself. */
export class TokenFormDto {
  @ApiProperty({ description: 'The access token (JWT) or refresh token', example: 'eyJhbGciOiJFUzI1NiIsInR5cCI6ImF0K2p3dCJ9...' })
  token: string;

  @ApiPropertyOptional({
    description: 'A hint only (`access_token` or `refresh_token`); the token is recognised by its shape either way',
    example: 'access_token',
  })
  token_type_hint?: string;
}

/** RFC 7662 §2.2. Only `active` when the token is not active. */
export class IntrospectionDto {
  @ApiProperty({ description: 'Whether the token is usable right now; `false` alone for anything else', example: true })
  active: boolean;

  @ApiPropertyOptional({ description: 'The user id', example: '6f1c1a52-2f2c-4f5e-9a7f-2f3a1b2c3d4e' })
  sub?: string;

  @ApiPropertyOptional({ description: 'The session id', example: 'kq3Pz0bX2w9mR1tY' })
  sid?: string;

  @ApiPropertyOptional({ enum: ['access', 'refresh'], description: 'Which kind of token this is' })
  token_use?: 'access' | 'refresh';

  @ApiPropertyOptional({
    description: "Expiry (NumericDate): the access token's `exp`, or the session's idle expiry for a refresh token",
    example: 1767225600,
  })
  exp?: number;

  @ApiPropertyOptional({ description: 'Issued at (NumericDate); for a refresh token, when it was minted (login or last rotation)' })
  iat?: number;

  @ApiPropertyOptional({ description: 'Issuer (JWT_ISSUER)' })
  iss?: string;

  @ApiPropertyOptional({ description: 'Audience (JWT_AUDIENCE)' })
  aud?: string | string[];

  @ApiPropertyOptional({
    type: [String],
    description: "The user's current roles (from the user record, as Tessera's own role checks read them)",
  })
  roles?: string[];

  @ApiPropertyOptional({ description: 'When the user last proved who they are in this session (NumericDate)' })
  auth_time?: number;

  @ApiPropertyOptional({ description: 'What that proof is worth', enum: ['urn:tessera:aal1', 'urn:tessera:aal2'] })
  acr?: string;

  @ApiPropertyOptional({ type: [String], description: 'How (RFC 8176), e.g. `["pwd", "otp"]`' })
  amr?: string[];

  @ApiPropertyOptional({ description: "The access token's id (access tokens only)" })
  jti?: string;
}
