import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { IsOptional, IsString, MaxLength } from 'class-validator';
import { EmailAddressField, NEW_PASSWORD_POLICY, VERIFIED_PASSWORD_MAX, WellFormed } from '../../auth/dto/credentials.dto.js';

/*
 * Link tokens are only checked for type and size here: a malformed one is refused like an unknown
 * one (`link_invalid`), so the answer does not teach the token format.
 */

export class VerificationRequestDto {
  @ApiPropertyOptional({
    example: 'ada@example.com',
    description: 'Required without a Bearer token; ignored with one (the mail goes to the caller’s own address)',
    maxLength: 254,
  })
  @IsOptional()
  @EmailAddressField()
  email?: string;
}

export class EmailAddressDto {
  @ApiProperty({ example: 'ada@example.com', maxLength: 254 })
  @EmailAddressField()
  email: string;
}

export class VerifyEmailDto {
  @ApiProperty({
    example: 'q3J8xv0Zb1m4W9sR2yT6uH5kL7nP0aD3fG8hJ1cV4eX',
    description: 'The `token` query parameter of the link in the mail (verification or email change)',
  })
  @MaxLength(128)
  @IsString()
  token: string;
}

export class ResetPasswordDto {
  @ApiProperty({
    example: 'Zk1m9bQ4rT7wX2yA5cE8gJ0nP3sU6vH1dF4kL7oR2tW',
    description: 'The `token` query parameter of the link in the mail',
  })
  @MaxLength(128)
  @IsString()
  token: string;

  @ApiProperty({ example: 'staple tuning fork lamp shade', description: NEW_PASSWORD_POLICY })
  @WellFormed()
  @IsString()
  newPassword: string;
}

export class ChangeEmailDto {
  @ApiProperty({
    example: 'ada@new.example.com',
    description: 'Trimmed, lower-cased and NFC-normalised, like at registration',
    maxLength: 254,
  })
  @EmailAddressField()
  newEmail: string;

  @ApiProperty({ example: 'correct horse battery staple', description: 'Verified like a login password', maxLength: VERIFIED_PASSWORD_MAX })
  @MaxLength(VERIFIED_PASSWORD_MAX)
  @WellFormed()
  @IsString()
  currentPassword: string;
}
