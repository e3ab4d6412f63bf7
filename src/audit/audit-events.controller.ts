import { Controller, Get, Header, Query } from '@nestjs/common';
import { ApiOkResponse, ApiOperation, ApiTags } from '@nestjs/swagger';
import { Auth, CurrentUser } from '../auth/decorators/auth.decorators.js';
import type { AuthenticatedUser } from '../auth/tokens/access-token.js';
import { ApiProblems } from '../common/problems/api-problems.decorator.js';
import { AuditEventsQueryDto, EventPageQueryDto, SecurityEventDto, SecurityEventPageDto } from './dto/security-event.dto.js';
import { type EventPage, SecurityEventsService } from './security-events.service.js';

const DEFAULT_LIMIT = 50;

const toPage = (page: EventPage): SecurityEventPageDto => ({ items: page.items.map(SecurityEventDto.from), nextCursor: page.nextCursor });

@ApiTags('admin')
@Controller('admin/audit-events')
export class AuditEventsController {
  constructor(private readonly events: SecurityEventsService) {}

  @Get()
  @Auth('admin')
  @Header('Cache-Control', 'no-store')
  @ApiOperation({
    summary: 'Security events',
    description: 'Logins, refresh-token reuse, ended sessions, password changes and admin actions, newest first; `since` inclusive, `until` exclusive.',
  })
  @ApiOkResponse({ type: SecurityEventPageDto })
  @ApiProblems([400], { 400: 'Invalid filter or cursor (`validation_failed`)' })
  async list(@Query() query: AuditEventsQueryDto): Promise<SecurityEventPageDto> {
    const filter = {
      userId: query.userId?.toLowerCase(),
      type: query.type,
      since: query.since === undefined ? undefined : new Date(query.since),
      until: query.until === undefined ? undefined : new Date(query.until),
    };
    return toPage(await this.events.list(filter, query.limit ?? DEFAULT_LIMIT, query.cursor));
  }
}

@ApiTags('auth')
@Controller('auth/activity')
export class ActivityController {
  constructor(private readonly events: SecurityEventsService) {}

  @Get()
  @Auth()
  @Header('Cache-Control', 'no-store')
  @ApiOperation({ summary: 'Your security events', description: 'Logins, failed logins, ended sessions and changes to your account, newest first.' })
  @ApiOkResponse({ type: SecurityEventPageDto })
  @ApiProblems([400], { 400: 'Invalid cursor or limit (`validation_failed`)' })
  async list(@CurrentUser() user: AuthenticatedUser, @Query() query: EventPageQueryDto): Promise<SecurityEventPageDto> {
    return toPage(await this.events.list({ userId: user.id }, query.limit ?? DEFAULT_LIMIT, query.cursor));
  }
}
