import { type ArgumentsHost, Catch, type ExceptionFilter, HttpException, HttpStatus } from '@nestjs/common';

/**
 * An answer of the verifier as RFC 9457 problem details, with the same `code`s as Tessera's, so a
 * client handles Tessera and the services behind it alike. Rendered by ProblemFilter (registered by
 * TesseraVerifierModule); any other exception filter still sees an ordinary HttpException.
 */
export class TesseraProblem extends HttpException {
  constructor(
    status: HttpStatus,
    readonly code: string,
    readonly title: string,
    readonly detail: string,
    readonly headers: Record<string, string> = {},
  ) {
    super({ type: 'about:blank', title, status, detail, code }, status);
  }
}

const bearer = (error: 'invalid_token' | 'invalid_request', description?: string) => ({
  'WWW-Authenticate': description ? `Bearer error="${error}", error_description="${description}"` : `Bearer error="${error}"`,
});

export const Problems = {
  missingToken: () =>
    new TesseraProblem(
      HttpStatus.UNAUTHORIZED,
      'missing_token',
      'Authentication required',
      'Send an access token as "Authorization: Bearer <token>"',
      bearer('invalid_request'),
    ),
  invalidToken: (detail = 'The access token is invalid') =>
    new TesseraProblem(HttpStatus.UNAUTHORIZED, 'invalid_token', 'Invalid token', detail, bearer('invalid_token', detail)),
  tokenExpired: () =>
    new TesseraProblem(
      HttpStatus.UNAUTHORIZED,
      'token_expired',
      'Token expired',
      'The access token has expired; refresh it and retry',
      bearer('invalid_token', 'The access token expired'),
    ),
  sessionRevoked: () =>
    new TesseraProblem(
      HttpStatus.UNAUTHORIZED,
      'session_revoked',
      'Session ended',
      'The session of this token has ended; log in again',
      bearer('invalid_token', 'The session has ended'),
    ),
  reauthenticationRequired: (maxAgeSeconds: number, acrValues?: string) =>
    new TesseraProblem(
      HttpStatus.UNAUTHORIZED,
      'reauthentication_required',
      'Reauthentication required',
      acrValues
        ? `This action needs a recent authentication with two factors (${acrValues}); reauthenticate and retry with the new access token`
        : `This action needs an authentication at most ${maxAgeSeconds} seconds old; reauthenticate and retry with the new access token`,
      {
        'WWW-Authenticate':
          `Bearer error="insufficient_user_authentication", max_age=${maxAgeSeconds}` + (acrValues ? `, acr_values="${acrValues}"` : ''),
      },
    ),
  forbidden: (detail = 'You do not have permission to do this') =>
    new TesseraProblem(HttpStatus.FORBIDDEN, 'forbidden', 'Forbidden', detail),
  /** The revocation feed has been lost too long, or not caught up yet: no token can be trusted. */
  unavailable: (retryAfterSeconds: number) =>
    new TesseraProblem(
      HttpStatus.SERVICE_UNAVAILABLE,
      'service_unavailable',
      'Service unavailable',
      'Revocations from the authentication service cannot be confirmed right now; retry shortly',
      { 'Retry-After': String(retryAfterSeconds) },
    ),
};

interface HeaderWriter {
  status?(code: number): unknown;
  code?(code: number): unknown;
  header?(name: string, value: string): unknown;
  setHeader?(name: string, value: string): unknown;
  send?(body: string): unknown;
  end?(body: string): unknown;
}

/** Renders TesseraProblem as `application/problem+json` with its headers, on Fastify or Express. */
@Catch(TesseraProblem)
export class ProblemFilter implements ExceptionFilter<TesseraProblem> {
  catch(problem: TesseraProblem, host: ArgumentsHost): void {
    const reply = host.switchToHttp().getResponse<HeaderWriter>();
    const headers: Record<string, string> = {
      ...problem.headers,
      'Content-Type': 'application/problem+json',
      // An answer about who the caller is (or is not) is never for a shared cache.
      'Cache-Control': 'no-store',
    };
    const set = (name: string, value: string) => (reply.header ? reply.header(name, value) : reply.setHeader?.(name, value));
    for (const [name, value] of Object.entries(headers)) set(name, value);
    const body = JSON.stringify(problem.getResponse());
    if (reply.code) reply.code(problem.getStatus());
    else reply.status?.(problem.getStatus());
    if (reply.send) reply.send(body);
    else reply.end?.(body);
  }
}
