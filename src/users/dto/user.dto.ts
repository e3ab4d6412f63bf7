import { ApiProperty } from '@nestjs/swagger';
import { ArrayMaxSize, IsArray, IsBoolean, Matches, ValidateIf } from 'class-validator';
import type { User } from '../user.js';

export class UserDto {
  @ApiProperty({ format: 'uuid', example: '5b0f3a8e-2f4c-4c1e-9d55-0b1f8f2a7c11' })
  id: string;

  @ApiProperty({ example: 'ada@example.com' })
  email: string;

  @ApiProperty({ type: [String], example: ['user'] })
  roles: string[];

  static from(user: User): UserDto {
    return { id: user.id, email: user.email, roles: user.roles };
  }
}

/** A user as they (GET /users/me) and admins see them: with the state of their address. */
export class AccountUserDto extends UserDto {
  @ApiProperty({
    example: true,
    description: 'Whether a link mailed to `email` has been used (verification, a password reset or an email change)',
  })
  emailVerified: boolean;

  static override from(user: User): AccountUserDto {
    return { ...UserDto.from(user), emailVerified: user.emailVerified };
  }
}

export class AdminUserDto extends AccountUserDto {
  @ApiProperty({ example: false })
  disabled: boolean;

  static override from(user: User): AdminUserDto {
    return { ...AccountUserDto.from(user), disabled: user.disabled };
  }
}

export class UpdateUserDto {
  @ApiProperty({ required: false, description: 'Disabling ends all of the user’s sessions at once', example: true })
  // Absent means unchanged; null is refused (IsOptional would let it through to a NOT NULL column).
  @ValidateIf((_body, value) => value !== undefined)
  @IsBoolean()
  disabled?: boolean;

  @ApiProperty({ required: false, type: [String], example: ['user', 'admin'] })
  @ValidateIf((_body, value) => value !== undefined)
  @IsArray()
  @ArrayMaxSize(16)
  @Matches(/^[a-z][a-z0-9_-]{0,31}$/, { each: true, message: 'each role must be lower-case letters, digits, - or _ (max 32)' })
  roles?: string[];
}
