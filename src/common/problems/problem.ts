import { HttpException, HttpStatus } from '@nestjs/common';

/** Request bodies are small JSON documents; anything bigger is refused with 413. */
export const BODY_LIMIT = 16 * 1024;

export interface FieldError {
  field: string;
  message: string;
}

export interface ProblemOptions {
  detail?: string;
  errors?: FieldError[];
  headers?: Record<string, string>;
}

/**
 * An error with a stable machine-readable `code`, rendered as RFC 9457 problem details by
 * ProblemDetailsFilter. Every deliberate 4xx/5xx in Tessera is one of these.
 */
export class ProblemException extends HttpException {
  readonly code: string;
  readonly detail: string;
  readonly errors?: FieldError[];
  readonly headers: Record<string, string>;

  constructor(status: HttpStatus, code: string, title: string, options: ProblemOptions = {}) {
    super(title, status);
    this.code = code;
    this.detail = options.detail ?? title;
    this.errors = options.errors;
    this.headers = options.headers ?? {};
  }
}

const bearer = (error: 'invalid_token' | 'invalid_request', description?: string) => ({
  'WWW-Authenticate': description ? `Bearer error="${error}", error_description="${description}"` : `Bearer error="${error}"`,
});

/** The problems Tessera answers with, in one place so codes and titles stay consistent. */
export const Problems = {
  validation: (errors: FieldError[]) =>
    new ProblemException(HttpStatus.BAD_REQUEST, 'validation_failed', 'Request validation failed', {
      detail: errors.map((e) => `${e.field}: ${e.message}`).join('; '),
      errors,
    }),
  malformedJson: (detail = 'The request body is not valid JSON') =>
    new ProblemException(HttpStatus.BAD_REQUEST, 'malformed_json', 'Malformed JSON body', { detail }),
  payloadTooLarge: (limit = BODY_LIMIT) =>
    new ProblemException(HttpStatus.PAYLOAD_TOO_LARGE, 'payload_too_large', 'Payload too large', {
      detail: `Request bodies are limited to ${limit} bytes`,
    }),
  unsupportedMediaType: (detail = 'Send request bodies as application/json') =>
    new ProblemException(HttpStatus.UNSUPPORTED_MEDIA_TYPE, 'unsupported_media_type', 'Unsupported media type', { detail }),
  /** The OAuth endpoints (RFC 6749 §5.2, RFC 7662 §2.3, RFC 7009 §2.2.1): code `invalid_request`, as those RFCs name it. */
  invalidRequest: (detail: string) => new ProblemException(HttpStatus.BAD_REQUEST, 'invalid_request', 'Invalid request', { detail }),
  notFound: (detail = 'No such resource') => new ProblemException(HttpStatus.NOT_FOUND, 'not_found', 'Not found', { detail }),
  invalidCredentials: () =>
    new ProblemException(HttpStatus.UNAUTHORIZED, 'invalid_credentials', 'Invalid credentials', {
      detail: 'The email or password is incorrect',
    }),
  missingToken: () =>
    new ProblemException(HttpStatus.UNAUTHORIZED, 'missing_token', 'Authentication required', {
      detail: 'Send an access token as "Authorization: Bearer <token>"',
      headers: bearer('invalid_request'),
    }),
  invalidToken: (detail = 'The access token is invalid') =>
    new ProblemException(HttpStatus.UNAUTHORIZED, 'invalid_token', 'Invalid token', {
      detail,
      headers: bearer('invalid_token', detail),
    }),
  tokenExpired: () =>
    new ProblemException(HttpStatus.UNAUTHORIZED, 'token_expired', 'Token expired', {
      detail: 'The access token has expired; refresh it and retry',
      headers: bearer('invalid_token', 'The access token expired'),
    }),
  sessionRevoked: () =>
    new ProblemException(HttpStatus.UNAUTHORIZED, 'session_revoked', 'Session ended', {
      detail: 'The session of this token has ended; log in again',
      headers: bearer('invalid_token', 'The session has ended'),
    }),
  invalidRefreshToken: (detail = 'The refresh token is invalid or its session has ended') =>
    new ProblemException(HttpStatus.UNAUTHORIZED, 'invalid_refresh_token', 'Invalid refresh token', { detail }),
  /**
   * RFC 9470 step-up: the token's proof of identity is older than `maxAgeSeconds`, or (with
   * `acrValues`) worth less than the route requires. The client reauthenticates
   * (`POST /auth/reauthenticate`) and retries with the new access token.
   */
  reauthenticationRequired: (maxAgeSeconds: number, acrValues?: string) =>
    new ProblemException(HttpStatus.UNAUTHORIZED, 'reauthentication_required', 'Reauthentication required', {
      detail: acrValues
        ? `This action needs a recent authentication with two factors (${acrValues}); reauthenticate and retry with the new access token`
        : `This action needs an authentication at most ${maxAgeSeconds} seconds old; reauthenticate and retry with the new access token`,
      headers: {
        'WWW-Authenticate':
          `Bearer error="insufficient_user_authentication", max_age=${maxAgeSeconds}` + (acrValues ? `, acr_values="${acrValues}"` : ''),
      },
    }),
  refreshReused: () =>
    new ProblemException(HttpStatus.UNAUTHORIZED, 'refresh_reused', 'Refresh token reused', {
      detail: 'This refresh token was already used; the session has been ended to protect the account',
    }),
  invalidClient: () =>
    new ProblemException(HttpStatus.UNAUTHORIZED, 'invalid_client', 'Invalid client', {
      detail: 'Send a service credential from SERVICE_CLIENTS as HTTP Basic (client id and secret)',
      headers: { 'WWW-Authenticate': 'Basic realm="tessera", charset="UTF-8"' },
    }),
  forbidden: (detail = 'You do not have permission to do this') =>
    new ProblemException(HttpStatus.FORBIDDEN, 'forbidden', 'Forbidden', { detail }),
  forbiddenOrigin: () =>
    new ProblemException(HttpStatus.FORBIDDEN, 'forbidden_origin', 'Forbidden origin', {
      detail: 'Cookie-authenticated requests are accepted only from the server itself or CORS_ORIGINS',
    }),
  emailTaken: () =>
    new ProblemException(HttpStatus.CONFLICT, 'email_taken', 'Email already registered', {
      detail: 'An account with this email already exists',
    }),
  rateLimited: (retryAfterSeconds: number) =>
    new ProblemException(HttpStatus.TOO_MANY_REQUESTS, 'rate_limited', 'Too many requests', {
      detail: `Too many attempts; retry after ${retryAfterSeconds} seconds`,
      headers: { 'Retry-After': String(retryAfterSeconds) },
    }),
  /**
   * Too many password hashes at once (registration bursts). 503, not 429: the server is busy for
   * everyone, not this client over its quota; clients already treat 503 + Retry-After as "retry".
   */
  hashingBusy: () =>
    new ProblemException(HttpStatus.SERVICE_UNAVAILABLE, 'service_unavailable', 'Service unavailable', {
      detail: 'Too many passwords are being processed right now; retry shortly',
      headers: { 'Retry-After': '1' },
    }),
  /** A password refused by the policy (NIST SP 800-63B-4): `field` names the body field. */
  weakPassword: (field: string, message: string) =>
    new ProblemException(HttpStatus.BAD_REQUEST, 'weak_password', 'Weak password', {
      detail: `${field}: ${message}`,
      errors: [{ field, message }],
    }),
  /** Unknown, used, expired and superseded links look alike. */
  linkInvalid: () =>
    new ProblemException(HttpStatus.BAD_REQUEST, 'link_invalid', 'Invalid link', {
      detail: 'This link is unknown, already used, expired or replaced by a newer one; ask for a new one',
    }),
  emailUnverified: () =>
    new ProblemException(HttpStatus.FORBIDDEN, 'email_unverified', 'Email not verified', {
      detail: 'Verify your email address before logging in; POST /auth/email/verification sends a new link',
    }),
  lastAdmin: () =>
    new ProblemException(HttpStatus.CONFLICT, 'last_admin', 'Last admin', {
      detail: 'This change would leave no enabled admin; make another user admin first',
    }),
  /** Second factors (auth/mfa/): enrolling while one is confirmed; remove it first. */
  mfaAlreadyEnabled: () =>
    new ProblemException(HttpStatus.CONFLICT, 'mfa_already_enabled', 'Second factor already enabled', {
      detail: 'An authenticator app is already set up for this account; remove it before enrolling another',
    }),
  /** Confirming with nothing pending, or changing recovery codes without a confirmed factor. */
  mfaNotEnrolling: () =>
    new ProblemException(HttpStatus.CONFLICT, 'mfa_not_enrolling', 'No enrolment pending', {
      detail: 'There is no authenticator app waiting for confirmation; enrol first',
    }),
  mfaNotEnabled: () =>
    new ProblemException(HttpStatus.CONFLICT, 'mfa_not_enabled', 'Second factor not enabled', {
      detail: 'This account has no confirmed second factor',
    }),
  /** Wrong, malformed, expired and already used codes look alike. */
  mfaCodeInvalid: () =>
    new ProblemException(HttpStatus.BAD_REQUEST, 'mfa_code_invalid', 'Invalid code', {
      detail: 'The code is wrong, expired or already used; enter the current code from your authenticator app',
    }),
  /** Passkeys (auth/passkeys/): a registration response that does not verify (challenge, origin, RP ID, attestation). */
  passkeyNotVerified: () =>
    new ProblemException(HttpStatus.BAD_REQUEST, 'passkey_not_verified', 'Passkey not verified', {
      detail:
        'The passkey could not be verified: its challenge is unknown, used or expired, or it was made for another site; ask for new options and try again',
    }),
  /** A passkey login or reauthentication that does not verify; every reason looks alike (the security event tells them apart). */
  invalidPasskey: () =>
    new ProblemException(HttpStatus.UNAUTHORIZED, 'invalid_passkey', 'Invalid passkey', {
      detail: 'The passkey could not be verified; ask for new options and try again',
    }),
  passkeyExists: () =>
    new ProblemException(HttpStatus.CONFLICT, 'passkey_exists', 'Passkey already registered', {
      detail: 'This passkey is already registered',
    }),
  noPasskey: () =>
    new ProblemException(HttpStatus.CONFLICT, 'no_passkey', 'No passkey', {
      detail: 'This account has no passkey; reauthenticate with the password instead',
    }),
  /** The second step of a login, or a reauthentication with a code: a wrong, expired, used or malformed code or recovery code, alike. */
  invalidCode: () =>
    new ProblemException(HttpStatus.UNAUTHORIZED, 'invalid_code', 'Invalid code', {
      detail: 'The code is wrong, expired or already used',
    }),
  /** POST /auth/login/mfa: unknown, expired, used and (after too many wrong codes) dead tokens look alike. */
  invalidMfaToken: () =>
    new ProblemException(HttpStatus.UNAUTHORIZED, 'invalid_mfa_token', 'Invalid MFA token', {
      detail: 'The mfaToken is unknown, expired, already used or ended by too many wrong codes; log in with the password again',
    }),
  /** MFA_REQUIRED_ROLES: the user holds such a role and has no second factor yet. */
  mfaEnrolmentRequired: () =>
    new ProblemException(HttpStatus.FORBIDDEN, 'mfa_enrolment_required', 'Second factor required', {
      detail: 'Your role requires a second factor: set one up (POST /auth/mfa/totp) before anything else',
    }),
  requestTimeout: () =>
    new ProblemException(HttpStatus.REQUEST_TIMEOUT, 'request_timeout', 'Request timeout', {
      detail: 'The request was not received in time',
    }),
  tooDeep: (maxDepth: number): ProblemException =>
    Problems.validation([{ field: 'body', message: `must not nest arrays and objects more than ${maxDepth} levels deep` }]),
  serviceUnavailable: (detail = 'A backing service is unavailable; retry shortly') =>
    new ProblemException(HttpStatus.SERVICE_UNAVAILABLE, 'service_unavailable', 'Service unavailable', {
      detail,
      headers: { 'Retry-After': '1' },
    }),
};
