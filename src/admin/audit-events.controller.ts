import { Controller, Get, Header, Query } from '@nestjs/common';
import { ApiOkResponse, ApiOperation, ApiTags } from '@nestjs/swagger';
import { Auth } from '../auth/decorators/auth.decorators.js';
import { ApiProblems } from '../common/problems/api-problems.decorator.js';
import { AuditEventsQueryDto, SecurityEventPageDto } from '../audit/dto/security-event.dto.js';
import { DEFAULT_EVENT_PAGE_LIMIT, toEventPageDto } from '../audit/event-page.js';
import { SecurityEventsService } from '../audit/security-events.service.js';

@ApiTags('admin')
@Controller('admin/audit-events')
export class AuditEventsController {
  constructor(private readonly events: SecurityEventsService) {}

  @Get()
  @Auth('admin')
  @Header('Cache-Control', 'no-store')
  @ApiOperation({
    summary: 'Security events',
    description:
      'Logins, refresh-token reuse, ended sessions, password changes and admin actions, newest first; `since` inclusive, `until` exclusive.',
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
    return toEventPageDto(await this.events.list(filter, query.limit ?? DEFAULT_EVENT_PAGE_LIMIT, query.cursor));
  }
}
