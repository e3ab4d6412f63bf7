import { Body, Controller, Delete, Get, HttpCode, HttpStatus, Param, Patch, Req } from '@nestjs/common';
import { ApiNoContentResponse, ApiOkResponse, ApiOperation, ApiParam, ApiTags } from '@nestjs/swagger';
import type { FastifyRequest } from 'fastify';
import type { RequestContext } from '../audit/security-event.js';
import { clientInfo } from '../auth/client-info.js';
import { Auth, type AuthenticatedUser, CurrentUser, RecentAuth } from '../auth/decorators/auth.decorators.js';
import { ACR_AAL2 } from '../auth/tokens/authentication-context.js';
import { ApiProblems } from '../common/problems/api-problems.decorator.js';
import { uuidParam } from '../common/ids.js';
import { AdminUserDto, UpdateUserDto } from '../users/dto/user.dto.js';
import { AdminUsersService } from './admin-users.service.js';

/** Where an admin action came from, and which admin: the actor of its security event. */
const adminContext = (request: FastifyRequest, admin: AuthenticatedUser): RequestContext => ({ ...clientInfo(request), actorId: admin.id });

const userId = uuidParam('id');

@ApiTags('admin')
@Auth('admin')
@ApiParam({ name: 'id', format: 'uuid', description: 'User id' })
@ApiProblems([400, 404])
@Controller('admin/users')
export class AdminUsersController {
  constructor(private readonly admin: AdminUsersService) {}

  @Get(':id')
  @ApiOperation({ summary: 'Get a user' })
  @ApiOkResponse({ type: AdminUserDto })
  async get(@Param('id', userId) id: string): Promise<AdminUserDto> {
    return AdminUserDto.from(await this.admin.get(id));
  }

  @Patch(':id')
  @ApiOperation({
    summary: 'Disable/enable a user or set roles',
    description:
      'Disabling ends all of the user’s sessions at once; login is refused while disabled. ' +
      'A change that would leave no enabled admin (the last admin dropping its role or disabling itself) is refused.',
  })
  @ApiProblems([409], { 409: 'No enabled admin would be left (`last_admin`)' })
  @ApiOkResponse({ type: AdminUserDto })
  async update(
    @Param('id', userId) id: string,
    @Body() body: UpdateUserDto,
    @CurrentUser() admin: AuthenticatedUser,
    @Req() request: FastifyRequest,
  ): Promise<AdminUserDto> {
    return AdminUserDto.from(await this.admin.update(id, body, adminContext(request, admin)));
  }

  @Delete(':id/sessions')
  @HttpCode(HttpStatus.NO_CONTENT)
  @ApiOperation({ summary: 'Force logout everywhere', description: 'Ends every session of the user at once.' })
  @ApiNoContentResponse({ description: 'All sessions ended' })
  async endSessions(
    @Param('id', userId) id: string,
    @CurrentUser() admin: AuthenticatedUser,
    @Req() request: FastifyRequest,
  ): Promise<void> {
    await this.admin.endAllSessions(id, adminContext(request, admin));
  }

  // As strong as what it removes: a recent proof with two factors (RFC 9470 step-up otherwise).
  @RecentAuth(undefined, { acr: ACR_AAL2 })
  @Delete(':id/mfa')
  @HttpCode(HttpStatus.NO_CONTENT)
  @ApiOperation({
    summary: 'Remove a user’s second factors (lost phone)',
    description:
      'Removes the user’s authenticator app, recovery codes and passkeys, ends every session of the user and their pending password ' +
      'resets and email changes, and forgets their count of wrong codes. Password logins stop asking for a code until the user sets ' +
      'up a new factor. Needs a recent admin proof with two factors (aal2). Recorded as `mfa.disabled` (with the admin) and ' +
      '`sessions.revoked_all`.',
  })
  @ApiNoContentResponse({ description: 'Second factors removed, sessions ended' })
  async removeSecondFactors(
    @Param('id', userId) id: string,
    @CurrentUser() admin: AuthenticatedUser,
    @Req() request: FastifyRequest,
  ): Promise<void> {
    await this.admin.removeSecondFactors(id, adminContext(request, admin));
  }
}
