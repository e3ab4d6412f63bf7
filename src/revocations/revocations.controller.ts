import { Controller, Headers, type MessageEvent, Query, Sse } from '@nestjs/common';
import { ApiHeader, ApiOkResponse, ApiOperation, ApiProduces, ApiQuery, ApiTags } from '@nestjs/swagger';
import type { Observable } from 'rxjs';
import { ServiceClientAuth } from '../auth/decorators/auth.decorators.js';
import { ApiProblems } from '../common/problems/api-problems.decorator.js';
import { RevocationFeedService } from './revocation-feed.service.js';

@ApiTags('other services')
@Controller('auth/revocations')
export class RevocationsController {
  constructor(private readonly feed: RevocationFeedService) {}

  @Sse()
  @ServiceClientAuth()
  @ApiOperation({
    summary: 'The revocation feed (Server-Sent Events)',
    description:
      'For services that verify Tessera access tokens themselves. `event: revocation`, `id:` the position, JSON `data`: ' +
      '`{"type":"session","sid","sub","until"}` when a session ends (its access tokens, `exp` ≤ `until`, are void) or ' +
      '`{"type":"user","sub","notBefore"}` when a user\'s roles change (their access tokens with `iat` < `notBefore` are void). ' +
      'Without a position: everything kept (at least the access-token lifetime), then live. Resume with `Last-Event-ID`; ' +
      'a position no longer kept is answered with `event: reset` (drop what you know), then everything kept. ' +
      'A `: hb` comment every second. See docs/api.md.',
  })
  @ApiProduces('text/event-stream')
  @ApiHeader({ name: 'Last-Event-ID', required: false, description: 'The last `id:` received, to resume after it' })
  @ApiQuery({ name: 'lastEventId', required: false, description: 'The same, for clients that cannot set headers (the header wins)' })
  @ApiOkResponse({ description: 'The event stream', content: { 'text/event-stream': { schema: { type: 'string' } } } })
  @ApiProblems([400, 503], {
    400: 'Malformed Last-Event-ID (`validation_failed`)',
    503: 'The feed cannot be followed now (Redis down, or too many streams open on this instance), with `Retry-After`',
  })
  revocations(@Headers('last-event-id') header?: string, @Query('lastEventId') query?: string): Promise<Observable<MessageEvent>> {
    return this.feed.open(header ?? query);
  }
}
