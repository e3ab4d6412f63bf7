import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { Transform } from 'class-transformer';
import { IsEmail, IsIn, IsOptional, IsString, Length, MaxLength } from 'class-validator';

export const PASSWORD_MIN = 10;
export const PASSWORD_MAX = 128;

/** Emails are trimmed and lower-cased before validation, so " Ada@Example.com" is ada@example.com. */
const NormaliseEmail = () => Transform(({ value }) => (typeof value === 'string' ? value.trim().toLowerCase() : value));

export class RegisterDto {
  @ApiProperty({ example: 'ada@example.com', description: 'Trimmed and lower-cased; unique', maxLength: 254 })
  @NormaliseEmail()
  @IsString()
  @MaxLength(254)
  @IsEmail({}, { message: 'email must be an email address' })
  email: string;

  @ApiProperty({ example: 'correct horse battery', minLength: PASSWORD_MIN, maxLength: PASSWORD_MAX })
  @IsString()
  @Length(PASSWORD_MIN, PASSWORD_MAX)
  password: string;
}

export class LoginDto {
  @ApiProperty({ example: 'ada@example.com' })
  @NormaliseEmail()
  @IsString()
  @MaxLength(254)
  email: string;

  @ApiProperty({ example: 'correct horse battery', description: 'Verified exactly as sent' })
  @IsString()
  @MaxLength(PASSWORD_MAX)
  password: string;

  @ApiPropertyOptional({
    enum: ['browser', 'native'],
    default: 'browser',
    description: '`native` returns the refresh token in the body instead of a cookie',
  })
  @IsOptional()
  @IsIn(['browser', 'native'])
  client?: 'browser' | 'native';
}

export class RefreshTokenBodyDto {
  @ApiPropertyOptional({
    description: 'Native clients only: the refresh token from the login/refresh body. Browsers send the cookie instead.',
    example: '5b0f3a8e-2f4c-4c1e-9d55-0b1f8f2a7c11.kq3Pz0bX2w9mR1tY.Zk9...',
  })
  @IsOptional()
  @IsString()
  @MaxLength(200)
  refreshToken?: string;
}

export class ChangePasswordDto {
  @ApiProperty({ example: 'correct horse battery' })
  @IsString()
  @MaxLength(PASSWORD_MAX)
  currentPassword: string;

  @ApiProperty({ example: 'staple tuning fork lamp', minLength: PASSWORD_MIN, maxLength: PASSWORD_MAX })
  @IsString()
  @Length(PASSWORD_MIN, PASSWORD_MAX)
  newPassword: string;
}
