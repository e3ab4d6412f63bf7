import { Controller, Get, UseGuards } from '@nestjs/common';
import { Auth, type AuthenticatedUser, CurrentUser, Public, RecentAuth } from '@tessera/verifier';
import { TesseraAuthGuard } from '@tessera/verifier/passport';

/** The routes a team would write: the decorators are the same as on Tessera itself. */
@Controller()
export class DownstreamController {
  @Public()
  @Get('public')
  public() {
    return { ok: true };
  }

  @Auth()
  @Get('protected')
  protected(@CurrentUser() user: AuthenticatedUser) {
    return { userId: user.id, sessionId: user.sessionId, roles: user.roles };
  }

  @Auth('admin')
  @Get('admin')
  admin(@CurrentUser() user: AuthenticatedUser) {
    return { userId: user.id, admin: true };
  }

  @RecentAuth()
  @Get('recent')
  recent(@CurrentUser() user: AuthenticatedUser) {
    return { userId: user.id, authTime: new Date(user.authTime).toISOString(), acr: user.acr };
  }

  /** The passport way: the global guard steps aside (@Public()), AuthGuard('tessera') decides. */
  @Public()
  @UseGuards(TesseraAuthGuard)
  @Get('passport')
  passport(@CurrentUser() user: AuthenticatedUser) {
    return { userId: user.id, via: 'passport' };
  }
}
