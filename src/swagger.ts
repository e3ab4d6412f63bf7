import { readFileSync } from 'node:fs';
import type { INestApplication } from '@nestjs/common';
import { DocumentBuilder, type OpenAPIObject, SwaggerModule } from '@nestjs/swagger';
import { BEARER_SCHEME, SERVICE_CLIENT_SCHEME } from './auth/decorators/auth.decorators.js';
import { ProblemDto } from './common/problems/problem.schema.js';

/** package.json's version (beside src/ and dist/, and in the image's /app). */
function packageVersion(): string {
  return (JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as { version: string }).version;
}

/** The groups in the order a person explores them: sign up and log in first, operations last. */
const TAGS: [name: string, description: string][] = [
  ['auth', 'Register, log in, refresh, log out, change password; your own security activity'],
  ['mfa', 'Second factors: an authenticator app (TOTP) and recovery codes'],
  ['passkeys', 'Passkeys (WebAuthn): register and manage them, log in without a password, reauthenticate'],
  ['sessions', 'Your sessions (devices): list them, end one'],
  ['users', 'Your account'],
  ['admin', 'Users and security events, for the admin role'],
  ['keys', 'The public keys that verify access tokens (JWKS)'],
  ['other services', 'For services that verify access tokens themselves: the revocation feed'],
  ['operations', 'Health checks and Prometheus metrics'],
];

export function buildOpenApiDocument(app: INestApplication, cookieName: string): OpenAPIObject {
  const config = new DocumentBuilder()
    .setTitle('Tessera')
    .setDescription(
      'Authentication and session service: short-lived JWT access tokens (send as `Authorization: Bearer`), ' +
        'rotating opaque refresh tokens in an HttpOnly cookie, sessions revocable at once.\n\n' +
        'Try it: `POST /auth/register`, `POST /auth/login`, copy `accessToken` into **Authorize → bearer**, then call `GET /users/me`. ' +
        `The refresh token is an HttpOnly cookie (\`${cookieName}\`, path /auth): login sets it and the browser sends it by itself, ` +
        'so `POST /auth/refresh` and `POST /auth/logout` work from this page with an empty body.\n\n' +
        'Every error is RFC 9457 problem details (`application/problem+json`) with a stable `code`.',
    )
    .setVersion(packageVersion())
    // The refresh cookie is no security scheme here: it is HttpOnly, set by login and sent by the
    // browser itself, so an Authorize box for it could only mislead (see ApiRefreshTokenBody).
    .addBearerAuth(
      { type: 'http', scheme: 'bearer', bearerFormat: 'JWT', description: 'The `accessToken` from login or refresh' },
      BEARER_SCHEME,
    )
    .addBasicAuth(
      {
        type: 'http',
        scheme: 'basic',
        description: 'A service credential from SERVICE_CLIENTS (other services: the revocation feed, introspection)',
      },
      SERVICE_CLIENT_SCHEME,
    );
  for (const [name, description] of TAGS) config.addTag(name, description);
  return SwaggerModule.createDocument(app, config.build(), { extraModels: [ProblemDto] });
}

/** Swagger UI at /docs and the OpenAPI document at /docs-json. */
export function setupSwagger(app: INestApplication, cookieName: string): void {
  SwaggerModule.setup('docs', app, () => buildOpenApiDocument(app, cookieName), {
    jsonDocumentUrl: 'docs-json',
    customSiteTitle: 'Tessera API',
    swaggerOptions: { withCredentials: true, displayRequestDuration: true, tryItOutEnabled: true },
  });
}
