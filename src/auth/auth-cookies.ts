import type { ConfigType } from '@nestjs/config';
import { HttpStatus, Inject, Injectable } from '@nestjs/common';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { ProblemException } from '../common/problems/problem.js';
import { authConfig } from '../config/configuration.js';
import { DEVICE_TOKEN_LIFETIME_SECONDS } from './tokens/device-token.js';

/** What login and refresh hand out. */
export interface IssuedTokens {
  accessToken: string;
  expiresIn: number;
  session: { id: string; expiresAt: number };
  refreshToken: string;
  /** After a login: proof that this client logged in to this account (see LoginThrottle). */
  deviceToken?: string;
}

/** Where a refresh token came from: native clients send it in the body, browsers as the cookie. */
export interface PresentedRefreshToken {
  token: string | undefined;
  native: boolean;
}

/**
 * The HTTP edge of the auth tokens, in one place: the refresh and device cookies exactly as the
 * contract describes them, which refresh token a request presents (body or cookie), when the
 * cookie is cleared, and the token responses.
 */
@Injectable()
export class AuthCookies {
  constructor(@Inject(authConfig.KEY) private readonly auth: ConfigType<typeof authConfig>) {}

  /**
   * Runs `use` with the refresh token the request presents. A refresh cookie that earned a 401 is
   * of no further use and is cleared; on a 503 it is kept (the session may be alive, the client
   * may retry). `ending` (logout): the cookie is cleared on success too, and on a 401 whichever
   * way the token came.
   */
  async withRefreshToken<T>(
    request: FastifyRequest,
    body: { refreshToken?: unknown } | undefined,
    reply: FastifyReply,
    use: (presented: PresentedRefreshToken) => Promise<T>,
    { ending = false }: { ending?: boolean } = {},
  ): Promise<T> {
    const presented = this.presented(request, body);
    let result: T;
    try {
      result = await use(presented);
    } catch (error) {
      const unauthorized = error instanceof ProblemException && (error.getStatus() as HttpStatus) === HttpStatus.UNAUTHORIZED;
      if (unauthorized && (ending || !presented.native)) this.clear(reply);
      throw error;
    }
    if (ending) this.clear(reply);
    return result;
  }

  /** The body's token (a native client) if it sent one, else the cookie's (a browser). */
  private presented(request: FastifyRequest, body: { refreshToken?: unknown } | undefined): PresentedRefreshToken {
    const fromBody = body?.refreshToken;
    if (typeof fromBody === 'string') return { token: fromBody, native: true };
    return { token: request.cookies?.[this.auth.cookieName], native: false };
  }

  /** The login/refresh body; a browser gets the refresh token only as the cookie. Never cached. */
  respond(reply: FastifyReply, tokens: IssuedTokens, native: boolean) {
    reply.header('Cache-Control', 'no-store');
    const body = {
      accessToken: tokens.accessToken,
      tokenType: 'Bearer' as const,
      expiresIn: tokens.expiresIn,
      sessionId: tokens.session.id,
    };
    if (native) return { ...body, refreshToken: tokens.refreshToken, ...(tokens.deviceToken ? { deviceToken: tokens.deviceToken } : {}) };
    this.set(reply, tokens.refreshToken, tokens.session.expiresAt);
    if (tokens.deviceToken) {
      reply.setCookie(this.auth.deviceCookieName, tokens.deviceToken, { ...this.attributes(), maxAge: DEVICE_TOKEN_LIFETIME_SECONDS });
    }
    return body;
  }

  /** The device token a login presents: in the body (native clients) or as the cookie (browsers). */
  presentedDevice(request: FastifyRequest, body: { deviceToken?: unknown }): string | undefined {
    const fromBody = body.deviceToken;
    return typeof fromBody === 'string' ? fromBody : request.cookies?.[this.auth.deviceCookieName];
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
