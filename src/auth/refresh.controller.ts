import { Body, Controller, HttpCode, HttpStatus, Post, Req, Res } from '@nestjs/common';
import { ApiOkResponse, ApiOperation, ApiTags } from '@nestjs/swagger';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { ApiProblems } from '../common/problems/api-problems.decorator.js';
import { RateLimit } from '../throttling/rate-limit.js';
import { clientInfo } from './client-info.js';
import { AllowWithoutSecondFactor, ApiRefreshTokenBody, CookieAuthenticated, Public } from './decorators/auth.decorators.js';
import { RefreshTokenBodyDto } from './dto/credentials.dto.js';
import { TokenResponseDto } from './dto/token-response.dto.js';
import { AuthCookies } from './auth-cookies.js';
import { RefreshService } from './refresh.service.js';

@ApiTags('auth')
@Controller('auth')
export class RefreshController {
  constructor(
    private readonly refreshes: RefreshService,
    private readonly cookies: AuthCookies,
  ) {}

  @Public()
  @AllowWithoutSecondFactor()
  @RateLimit('refresh')
  @CookieAuthenticated()
  @Post('refresh')
  @HttpCode(HttpStatus.OK)
  @ApiOperation({
    summary: 'Rotate the refresh token',
    description:
      'Exchanges the refresh token (cookie, or `refreshToken` in the body for native clients) for a new access token and a new ' +
      'refresh token; the presented one is dead afterwards. Re-presenting it within REFRESH_REUSE_GRACE_SECONDS returns the same ' +
      'successor (parallel tabs, retries); presenting it later, or any older token, ends the session (`refresh_reused`).',
  })
  @ApiRefreshTokenBody()
  @ApiOkResponse({ type: TokenResponseDto, headers: { 'Set-Cookie': { description: 'The new refresh token cookie (cookie clients)' } } })
  @ApiProblems([400, 401, 503], {
    401: 'Missing, unknown, expired or ended refresh token (`invalid_refresh_token`), or a reused one (`refresh_reused`, the session is ended)',
  })
  async refresh(
    @Body() body: RefreshTokenBodyDto,
    @Req() request: FastifyRequest,
    @Res({ passthrough: true }) reply: FastifyReply,
  ): Promise<TokenResponseDto> {
    return this.cookies.withRefreshToken(request, body, reply, async ({ token, native }) =>
      this.cookies.respond(reply, await this.refreshes.refresh(token, clientInfo(request)), native),
    );
  }
}
