import { Inject, Injectable } from '@nestjs/common';
import type { ConfigType } from '@nestjs/config';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { authConfig } from '../config/configuration.js';

/** The refresh cookie, exactly as the contract describes it, in one place. */
@Injectable()
export class RefreshCookie {
  constructor(@Inject(authConfig.KEY) private readonly auth: ConfigType<typeof authConfig>) {}

  get name(): string {
    return this.auth.cookieName;
  }

  read(request: FastifyRequest): string | undefined {
    return request.cookies?.[this.auth.cookieName];
  }

  /** `expiresAt` in epoch ms: Max-Age is the session's remaining lifetime. */
  set(reply: FastifyReply, token: string, expiresAt: number): void {
    reply.setCookie(this.auth.cookieName, token, {
      ...this.attributes(),
      maxAge: Math.max(1, Math.floor((expiresAt - Date.now()) / 1000)),
    });
  }

  clear(reply: FastifyReply): void {
    reply.clearCookie(this.auth.cookieName, this.attributes());
  }

  private attributes() {
    return {
      httpOnly: true,
      secure: this.auth.cookieSecure,
      sameSite: 'strict' as const,
      path: this.auth.cookiePath,
    };
  }
}

export interface IssuedTokens {
  accessToken: string;
  expiresIn: number;
  session: { id: string; expiresAt: number };
  refreshToken: string;
}

/**
 * The body (and cookie) of login and refresh: browsers get the refresh token as the cookie,
 * native clients in the body. Never cached.
 */
export function tokenResponse(cookie: RefreshCookie, reply: FastifyReply, tokens: IssuedTokens, native: boolean) {
  reply.header('Cache-Control', 'no-store');
  const body = {
    accessToken: tokens.accessToken,
    tokenType: 'Bearer' as const,
    expiresIn: tokens.expiresIn,
    sessionId: tokens.session.id,
  };
  if (native) return { ...body, refreshToken: tokens.refreshToken };
  cookie.set(reply, tokens.refreshToken, tokens.session.expiresAt);
  return body;
}
