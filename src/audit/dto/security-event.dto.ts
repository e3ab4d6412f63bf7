import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { Transform } from 'class-transformer';
import { IsInt, IsISO8601, IsOptional, IsString, IsUUID, Matches, Max, MaxLength, Min } from 'class-validator';
import { SECURITY_EVENT_TYPES, type SecurityEvent } from '../security-event.js';

/** A date-time with a time zone (RFC 3339), checked for real dates by IsISO8601 below it. */
const DATE_TIME = /^\d{4}-\d\d-\d\dT\d\d:\d\d(:\d\d(\.\d{1,6})?)?(Z|[+-]\d\d:\d\d)$/;
/** Query strings are strings: a whole number becomes a number, anything else fails IsInt. */
const ToInteger = () =>
  Transform(({ value }: { value: unknown }) => (typeof value === 'string' && /^\d{1,6}$/.test(value) ? Number(value) : value));

/*
 * class-validator runs a property's decorators bottom-up and stops at the first failure
 * (stopAtFirstError), so the type check sits at the bottom and is reported first.
 */
export class EventPageQueryDto {
  @ApiPropertyOptional({ description: 'The `nextCursor` of the previous page' })
  @IsOptional()
  @Matches(/^[A-Za-z0-9_-]+$/, { message: 'cursor is not a cursor this server returned' })
  @MaxLength(200)
  @IsString()
  cursor?: string;

  @ApiPropertyOptional({ minimum: 1, maximum: 100, default: 50 })
  @IsOptional()
  @Max(100)
  @Min(1)
  @IsInt({ message: 'limit must be a whole number from 1 to 100' })
  @ToInteger()
  limit?: number;
}

export class AuditEventsQueryDto extends EventPageQueryDto {
  @ApiPropertyOptional({ format: 'uuid', description: 'Events about this user' })
  @IsOptional()
  @IsUUID('all', { message: 'userId must be a UUID' })
  @IsString()
  userId?: string;

  @ApiPropertyOptional({ example: 'login.failed', description: `One type: ${SECURITY_EVENT_TYPES.join(', ')}` })
  @IsOptional()
  @Matches(/^[a-z][a-z_]*(\.[a-z][a-z_]*)*$/, { message: 'type must look like login.failed' })
  @MaxLength(64)
  @IsString()
  type?: string;

  @ApiPropertyOptional({ format: 'date-time', example: '2026-11-01T00:00:00Z', description: 'Events at or after this time' })
  @IsOptional()
  @IsISO8601({ strict: true }, { message: 'since must be a valid date-time' })
  @Matches(DATE_TIME, { message: 'since must be an ISO 8601 date-time with a time zone, like 2026-11-01T00:00:00Z' })
  @IsString()
  since?: string;

  @ApiPropertyOptional({ format: 'date-time', example: '2026-12-01T00:00:00Z', description: 'Events before this time' })
  @IsOptional()
  @IsISO8601({ strict: true }, { message: 'until must be a valid date-time' })
  @Matches(DATE_TIME, { message: 'until must be an ISO 8601 date-time with a time zone, like 2026-12-01T00:00:00Z' })
  @IsString()
  until?: string;
}

export class SecurityEventDto {
  @ApiProperty({ format: 'uuid', example: '0f8b6a2e-4c1d-4e7a-9b3f-2d5c8e1a7b90' })
  id: string;

  @ApiProperty({ format: 'date-time', example: '2026-11-23T09:12:44.123Z' })
  time: string;

  @ApiProperty({ enum: SECURITY_EVENT_TYPES, example: 'login.failed' })
  type: string;

  @ApiProperty({
    format: 'uuid',
    nullable: true,
    type: String,
    description: 'The account the event is about',
    example: '5b0f3a8e-2f4c-4c1e-9d55-0b1f8f2a7c11',
  })
  userId: string | null;

  @ApiProperty({ format: 'uuid', nullable: true, type: String, description: 'The admin who acted (admin actions)', example: null })
  actorId: string | null;

  @ApiProperty({ nullable: true, type: String, example: '203.0.113.7' })
  ip: string | null;

  @ApiProperty({ nullable: true, type: String, example: 'Mozilla/5.0 (X11; Linux x86_64) Firefox/140.0' })
  userAgent: string | null;

  @ApiProperty({ nullable: true, type: String, example: null })
  sessionId: string | null;

  @ApiProperty({ enum: ['success', 'failure'], example: 'failure' })
  outcome: string;

  @ApiProperty({
    type: 'object',
    additionalProperties: true,
    description: 'Reasons and counts; never a secret',
    example: { reason: 'wrong_password' },
  })
  details: Record<string, unknown>;

  static from(event: SecurityEvent): SecurityEventDto {
    return { ...event, time: event.time.toISOString() };
  }
}

export class SecurityEventPageDto {
  @ApiProperty({ type: [SecurityEventDto], description: 'Newest first' })
  items: SecurityEventDto[];

  @ApiProperty({
    nullable: true,
    type: String,
    description: 'Pass as `cursor` for the next (older) page; null on the last page',
    example: 'MjAyNi0xMS0yM1QwOToxMjo0NC4xMjNafDBmOGI2YTJl',
  })
  nextCursor: string | null;
}
