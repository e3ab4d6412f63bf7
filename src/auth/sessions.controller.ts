import { Controller, Delete, Get, HttpCode, HttpStatus, Param, Req } from '@nestjs/common';
import { ApiNoContentResponse, ApiOkResponse, ApiOperation, ApiParam, ApiTags } from '@nestjs/swagger';
import type { FastifyRequest } from 'fastify';
import { ApiProblems } from '../common/problems/api-problems.decorator.js';
import { Problems } from '../common/problems/problem.js';
import { AuthService } from './auth.service.js';
import { clientInfo } from './client-info.js';
import { Auth, CurrentUser } from './decorators/auth.decorators.js';
import { SessionDto } from './dto/session.dto.js';
import { SessionService } from './sessions/session.service.js';
import type { AuthenticatedUser } from './tokens/access-token.js';

@ApiTags('sessions')
@Auth()
@Controller('auth/sessions')
export class SessionsController {
  constructor(
    private readonly sessions: SessionService,
    private readonly auth: AuthService,
  ) {}

  @Get()
  @ApiOperation({ summary: 'Your live sessions', description: 'Most recently used first; `current` marks the one making this request.' })
  @ApiOkResponse({ type: [SessionDto] })
  async list(@CurrentUser() user: AuthenticatedUser): Promise<SessionDto[]> {
    return (await this.sessions.list(user.id)).map((session) => SessionDto.from(session, user.sessionId));
  }

  @Delete(':id')
  @HttpCode(HttpStatus.NO_CONTENT)
  @ApiOperation({
    summary: 'End one of your sessions',
    description: 'Its access and refresh tokens stop working at once. Ending the current session logs you out.',
  })
  @ApiParam({ name: 'id', example: 'kq3Pz0bX2w9mR1tY' })
  @ApiNoContentResponse({ description: 'Session ended' })
  @ApiProblems([404], { 404: 'No such session among yours (`not_found`)' })
  async revoke(@CurrentUser() user: AuthenticatedUser, @Param('id') id: string, @Req() request: FastifyRequest): Promise<void> {
    // Sessions are looked up under the caller's own user id, so another user's id is simply unknown.
    if (!(await this.auth.revokeSession(user, id, clientInfo(request)))) throw Problems.notFound('No such session');
  }
}
