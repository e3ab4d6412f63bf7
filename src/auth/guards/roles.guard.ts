import { type CanActivate, type ExecutionContext, Injectable } from '@nestjs/common';
import { Reflector } from '@nestjs/core';
import { Problems } from '../../common/problems/problem.js';
import { UsersService } from '../../users/users.service.js';
import { REQUIRED_ROLES } from '../decorators/auth.decorators.js';
import type { AuthenticatedUser } from '../tokens/access-token.js';

/**
 * Checks @Roles / @Auth(role) against the user's *current* roles, read from the database (not the
 * token, not a cache), so removing a role or disabling the user takes effect on the next request.
 */
@Injectable()
export class RolesGuard implements CanActivate {
  constructor(
    private readonly reflector: Reflector,
    private readonly users: UsersService,
  ) {}

  /** Synchronous for routes without roles (almost all): no promise on the common path. */
  canActivate(context: ExecutionContext): boolean | Promise<boolean> {
    const roles = this.reflector.getAllAndOverride<string[] | undefined>(REQUIRED_ROLES, [context.getHandler(), context.getClass()]);
    if (!roles || roles.length === 0) return true;
    return this.hasRole(context, roles);
  }

  private async hasRole(context: ExecutionContext, roles: string[]): Promise<boolean> {
    const principal = context.switchToHttp().getRequest<{ user?: AuthenticatedUser }>().user;
    const user = principal ? await this.users.findFresh(principal.id) : undefined;
    if (!user || user.disabled || !roles.some((role) => user.roles.includes(role))) throw Problems.forbidden();
    return true;
  }
}
