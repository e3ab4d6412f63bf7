import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';

/** POST /auth/reauthenticate: a new access token for the same session (its refresh token is unchanged). */
export class ReauthenticatedTokenDto {
  @ApiProperty({
    description: 'JWT access token (typ at+jwt) with the new `auth_time`, `amr` and `acr`; keep it in memory',
    example: 'eyJhbGciOiJFUzI1NiIsInR5cCI6ImF0K2p3dCJ9...',
  })
  accessToken: string;

  @ApiProperty({ enum: ['Bearer'], example: 'Bearer' })
  tokenType: 'Bearer';

  @ApiProperty({ description: 'Access token lifetime in seconds', example: 900 })
  expiresIn: number;
}

export class TokenResponseDto {
  @ApiProperty({ description: 'JWT access token (typ at+jwt); keep it in memory', example: 'eyJhbGciOiJFUzI1NiIsInR5cCI6ImF0K2p3dCJ9...' })
  accessToken: string;

  @ApiProperty({ enum: ['Bearer'], example: 'Bearer' })
  tokenType: 'Bearer';

  @ApiProperty({ description: 'Access token lifetime in seconds', example: 900 })
  expiresIn: number;

  @ApiProperty({ description: 'Id of the session this token belongs to', example: 'kq3Pz0bX2w9mR1tY' })
  sessionId: string;

  @ApiPropertyOptional({ description: 'Only for `client: "native"`: the refresh token (browsers get the cookie)' })
  refreshToken?: string;

  @ApiPropertyOptional({
    description: 'Only for `client: "native"` logins: send it back as `deviceToken` in later logins (browsers get a cookie)',
  })
  deviceToken?: string;
}

/** POST /auth/login for an account with TOTP: the first step; no token, no cookie. */
export class MfaChallengeDto {
  @ApiProperty({ enum: [true], example: true })
  mfaRequired: true;

  @ApiProperty({
    description: 'Send it to POST /auth/login/mfa with a code; single-use, lives 5 minutes, dies after 5 wrong codes',
    example: 'Qm9vdHN0cmFwIHRoZSBzZWNvbmQgc3RlcCBvZiBhIGxvZ2luIQ',
  })
  mfaToken: string;

  @ApiProperty({
    description: 'The second factors the account can use (`recovery_code` only while codes are left)',
    enum: ['totp', 'recovery_code'],
    isArray: true,
    example: ['totp', 'recovery_code'],
  })
  methods: ('totp' | 'recovery_code')[];
}
