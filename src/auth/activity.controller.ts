import { Controller, Get, Header, Query } from '@nestjs/common';
import { ApiOkResponse, ApiOperation, ApiTags } from '@nestjs/swagger';
import { EventPageQueryDto, SecurityEventPageDto } from '../audit/dto/security-event.dto.js';
import { DEFAULT_EVENT_PAGE_LIMIT, toEventPageDto } from '../audit/event-page.js';
import type { SecurityEvent } from '../audit/security-event.js';
import { SecurityEventsService } from '../audit/security-events.service.js';
import { ApiProblems } from '../common/problems/api-problems.decorator.js';
import { Auth, type AuthenticatedUser, CurrentUser } from './decorators/auth.decorators.js';

@ApiTags('auth')
@Controller('auth/activity')
export class ActivityController {
  constructor(private readonly events: SecurityEventsService) {}

  @Get()
  @Auth()
  @Header('Cache-Control', 'no-store')
  @ApiOperation({
    summary: 'Your security events',
    description: 'Logins, failed logins, ended sessions and changes to your account, newest first.',
  })
  @ApiOkResponse({ type: SecurityEventPageDto })
  @ApiProblems([400], { 400: 'Invalid cursor or limit (`validation_failed`)' })
  async list(@CurrentUser() user: AuthenticatedUser, @Query() query: EventPageQueryDto): Promise<SecurityEventPageDto> {
    const page = await this.events.list({ userId: user.id }, query.limit ?? DEFAULT_EVENT_PAGE_LIMIT, query.cursor);
    return toEventPageDto({ ...page, items: page.items.map((event) => redactOthers(event, user.id)) });
  }
}

/**
 * Events another account caused (an admin's actions on this user) keep their type, time and
 * details, but not who did them nor from where: that admin's ip, user agent and id are theirs.
 */
function redactOthers(event: SecurityEvent, callerId: string): SecurityEvent {
  if (event.actorId === null || event.actorId === callerId) return event;
  return { ...event, actorId: null, ip: null, userAgent: null };
}
