import { applyDecorators } from '@nestjs/common';
import { ApiResponse } from '@nestjs/swagger';
import { PROBLEM_CONTENT_TYPE, type ProblemBody, toProblem } from './problem-details.js';
import { type ProblemException, Problems } from './problem.js';

const DESCRIPTIONS: Record<number, string> = {
  400: 'Invalid input (`validation_failed`, `malformed_json`)',
  401: 'Not authenticated',
  403: 'Not allowed',
  404: 'Not found (`not_found`)',
  409: 'Conflict',
  413: 'Body over 16 KiB (`payload_too_large`)',
  429: 'Rate limited (`rate_limited`, with `Retry-After`)',
  503: 'Redis or the database is unavailable (`service_unavailable`)',
};

/** One real problem per code, made by the same factories the routes throw. */
const SAMPLES: Record<string, () => ProblemException> = {
  validation_failed: () => Problems.validation([{ field: 'email', message: 'email must be an email address' }]),
  weak_password: () => Problems.weakPassword('password', 'is one of the most common passwords'),
  malformed_json: () => Problems.malformedJson(),
  payload_too_large: () => Problems.payloadTooLarge(),
  unsupported_media_type: () => Problems.unsupportedMediaType(),
  not_found: () => Problems.notFound(),
  invalid_credentials: () => Problems.invalidCredentials(),
  missing_token: () => Problems.missingToken(),
  invalid_token: () => Problems.invalidToken(),
  token_expired: () => Problems.tokenExpired(),
  session_revoked: () => Problems.sessionRevoked(),
  invalid_refresh_token: () => Problems.invalidRefreshToken(),
  refresh_reused: () => Problems.refreshReused(),
  reauthentication_required: () => Problems.reauthenticationRequired(300),
  forbidden: () => Problems.forbidden(),
  forbidden_origin: () => Problems.forbiddenOrigin(),
  email_taken: () => Problems.emailTaken(),
  last_admin: () => Problems.lastAdmin(),
  link_invalid: () => Problems.linkInvalid(),
  email_unverified: () => Problems.emailUnverified(),
  rate_limited: () => Problems.rateLimited(30),
  passkey_not_verified: () => Problems.passkeyNotVerified(),
  invalid_passkey: () => Problems.invalidPasskey(),
  passkey_exists: () => Problems.passkeyExists(),
  no_passkey: () => Problems.noPasskey(),
  mfa_already_enabled: () => Problems.mfaAlreadyEnabled(),
  mfa_not_enrolling: () => Problems.mfaNotEnrolling(),
  mfa_not_enabled: () => Problems.mfaNotEnabled(),
  mfa_code_invalid: () => Problems.mfaCodeInvalid(),
  invalid_code: () => Problems.invalidCode(),
  invalid_mfa_token: () => Problems.invalidMfaToken(),
  mfa_enrolment_required: () => Problems.mfaEnrolmentRequired(),
  request_timeout: () => Problems.requestTimeout(),
  service_unavailable: () => Problems.serviceUnavailable(),
  invalid_client: () => Problems.invalidClient(),
  invalid_request: () => Problems.invalidRequest('The form parameter `token` is required'),
};

/** The example shown when a status's description names no code of that status. */
const DEFAULT_CODES: Record<number, string> = {
  400: 'validation_failed',
  401: 'missing_token',
  403: 'forbidden',
  404: 'not_found',
  409: 'email_taken',
  413: 'payload_too_large',
  415: 'unsupported_media_type',
  429: 'rate_limited',
  503: 'service_unavailable',
};

function sample(code: string): ProblemBody | undefined {
  const make = SAMPLES[code];
  return make ? toProblem(make()).body : undefined;
}

/**
 * The examples of one status: every code its description names in backticks (one example each,
 * so Swagger UI offers them in a list), or else the status's usual code.
 */
export function problemExamples(status: number, description: string): Record<string, { summary: string; value: ProblemBody }> {
  const named = [...description.matchAll(/`([a-z_]+)`/g)].map((match) => match[1]);
  const codes = [...new Set(named)].filter((code) => sample(code)?.status === status);
  if (codes.length === 0 && DEFAULT_CODES[status]) codes.push(DEFAULT_CODES[status]);
  return Object.fromEntries(
    codes.map((code) => {
      const value = sample(code)!;
      return [code, { summary: `${status} ${code}`, value }];
    }),
  );
}

/**
 * Documents problem-details responses (`application/problem+json`, with an example body per code);
 * `codes` overrides the description per status.
 */
export function ApiProblems(statuses: number[], codes: Record<number, string> = {}) {
  return applyDecorators(
    ...statuses.map((status) => {
      const description = codes[status] ?? DESCRIPTIONS[status];
      return ApiResponse({
        status,
        description,
        content: {
          [PROBLEM_CONTENT_TYPE]: {
            schema: { $ref: '#/components/schemas/ProblemDto' },
            examples: problemExamples(status, description),
          },
        },
      });
    }),
  );
}
