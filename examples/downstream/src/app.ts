import 'reflect-metadata';
import { NestFactory } from '@nestjs/core';
import { FastifyAdapter, type NestFastifyApplication } from '@nestjs/platform-fastify';
import type { TesseraVerifierOptions } from '@tessera/verifier';
import { DownstreamModule } from './app.module.js';

/** Builds the example service (not listening yet): main.ts and the tests start it the same way. */
export async function createDownstream(
  verifier: TesseraVerifierOptions,
  options: { logger?: false } = {},
): Promise<NestFastifyApplication> {
  const app = await NestFactory.create<NestFastifyApplication>(DownstreamModule.forRoot(verifier), new FastifyAdapter(), {
    logger: options.logger,
  });
  app.enableShutdownHooks();
  return app;
}
