import { NestFactory } from '@nestjs/core';
import type { NestFastifyApplication } from '@nestjs/platform-fastify';
import { Logger as NestPinoLogger } from 'nestjs-pino';
import { AppModule } from './app.module.js';
import { ProblemDetailsFilter } from './common/problems/problem-details.filter.js';
import { createValidationPipe } from './common/validation.js';
import type { Config } from './config/configuration.js';
import { registerDemoPage } from './demo/demo-page.js';
import { configureHttpEdge } from './http/http-edge.js';
import { createFastifyAdapter } from './http/http-server.js';
import { MetricsRegistry } from './metrics/metrics.registry.js';
import { preflight } from './preflight.js';
import { setupSwagger } from './swagger.js';

/**
 * Builds the Fastify-based Nest app exactly as production runs it (main.ts and the e2e tests
 * both call this), without listening: the preflight (config and keys, once), the module, the HTTP edge.
 */
export async function createApp(): Promise<NestFastifyApplication> {
  const loaded = await preflight(process.env);
  const app = await NestFactory.create<NestFastifyApplication>(AppModule.forRoot(loaded), createFastifyAdapter(loaded.config.app), {
    bufferLogs: true,
    abortOnError: false,
    // Fastify's own JSON parser (http/json-body.ts) does the parsing, with BODY_LIMIT.
    bodyParser: false,
  });
  app.useLogger(app.get(NestPinoLogger));
  await configureApp(app, loaded.config);
  return app;
}

async function configureApp(app: NestFastifyApplication, config: Config): Promise<void> {
  await configureHttpEdge(app, config.app, app.get(MetricsRegistry));
  if (config.app.demoPage) await registerDemoPage(app.getHttpAdapter().getInstance());
  app.useGlobalPipes(createValidationPipe());
  app.useGlobalFilters(new ProblemDetailsFilter());
  app.enableShutdownHooks();
  // Production serves the API description only when DOCS=true says so.
  if (config.app.docs) setupSwagger(app, config.auth.cookieName);
}
