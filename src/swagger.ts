import type { INestApplication } from '@nestjs/common';
import { DocumentBuilder, type OpenAPIObject, SwaggerModule } from '@nestjs/swagger';
import { BEARER_SCHEME, REFRESH_COOKIE_SCHEME } from './auth/decorators/auth.decorators.js';
import { ProblemDto } from './common/problems/problem.schema.js';

export function buildOpenApiDocument(app: INestApplication, cookieName: string): OpenAPIObject {
  const config = new DocumentBuilder()
    .setTitle('Tessera')
    .setDescription(
      'Authentication and session service: short-lived JWT access tokens (send as `Authorization: Bearer`), ' +
        'rotating opaque refresh tokens in an HttpOnly cookie, sessions revocable at once.\n\n' +
        'Try it: `POST /auth/register`, `POST /auth/login`, copy `accessToken` into **Authorize → bearer**, then call `GET /users/me`. ' +
        'The refresh cookie is set by the browser on login and sent automatically to `/auth/*`.\n\n' +
        'Every error is RFC 9457 problem details (`application/problem+json`) with a stable `code`.',
    )
    .setVersion('0.1.0')
    .addBearerAuth({ type: 'http', scheme: 'bearer', bearerFormat: 'JWT', description: 'The `accessToken` from login or refresh' }, BEARER_SCHEME)
    .addCookieAuth(cookieName, { type: 'apiKey', in: 'cookie', name: cookieName, description: 'The refresh token cookie (HttpOnly, path /auth)' }, REFRESH_COOKIE_SCHEME)
    .build();
  return SwaggerModule.createDocument(app, config, { extraModels: [ProblemDto] });
}

/** Swagger UI at /docs and the OpenAPI document at /docs-json. */
export function setupSwagger(app: INestApplication, cookieName: string): void {
  SwaggerModule.setup('docs', app, () => buildOpenApiDocument(app, cookieName), {
    jsonDocumentUrl: 'docs-json',
    customSiteTitle: 'Tessera API',
    swaggerOptions: { withCredentials: true, displayRequestDuration: true, tryItOutEnabled: true },
  });
}
