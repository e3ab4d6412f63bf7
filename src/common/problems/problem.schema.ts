import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';

export class FieldErrorDto {
  @ApiProperty({ example: 'password' })
  field: string;

  @ApiProperty({ example: 'password must be longer than or equal to 10 characters' })
  message: string;
}

/** RFC 9457 problem details, as every error is answered (for the OpenAPI document). */
export class ProblemDto {
  @ApiProperty({ example: 'urn:tessera:problem:invalid_token' })
  type: string;

  @ApiProperty({ example: 'Invalid token' })
  title: string;

  @ApiProperty({ example: 401 })
  status: number;

  @ApiProperty({ example: 'The access token is invalid' })
  detail: string;

  @ApiProperty({ example: 'invalid_token', description: 'Stable machine-readable error code' })
  code: string;

  @ApiPropertyOptional({ example: '/users/me' })
  instance?: string;

  @ApiPropertyOptional({ type: [FieldErrorDto], description: 'Present when code is validation_failed' })
  errors?: FieldErrorDto[];
}
