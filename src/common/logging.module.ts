import type { IncomingMessage, ServerResponse } from 'node:http';
import { Module } from '@nestjs/common';
import type { ConfigType } from '@nestjs/config';
import { LoggerModule } from 'nestjs-pino';
import { appConfig } from '../config/configuration.js';

/**
 * Structured logs; each request line carries the request id Fastify assigned (see requestId in
 * app.setup.ts). Headers are never logged: they carry tokens and cookies.
 */
@Module({
  imports: [
    LoggerModule.forRootAsync({
      inject: [appConfig.KEY],
      useFactory: (app: ConfigType<typeof appConfig>) => ({
        // Explicit: nestjs-pino's default route object matches nothing on Nest 12 + Fastify.
        forRoutes: ['{*splat}'],
        pinoHttp: {
          level: app.logLevel,
          serializers: {
            req: (request: { id: string; method: string; url: string; remoteAddress?: string }) => ({
              id: request.id,
              method: request.method,
              path: request.url?.split('?')[0],
            }),
            res: (response: { statusCode: number }) => ({ statusCode: response.statusCode }),
            // pino-http attaches a synthetic error to every 5xx; its stack says nothing useful.
            err: (error: { type?: string; message?: string }) => ({ type: error.type, message: error.message }),
          },
          // Belt and braces: should anything log these fields, they are censored.
          redact: ['req.headers.authorization', 'req.headers.cookie', 'res.headers["set-cookie"]', '*.password', '*.refreshToken', '*.accessToken'],
          customLogLevel: (_req: IncomingMessage, res: ServerResponse, error?: Error) =>
            res.statusCode === 503 ? 'warn' : error || res.statusCode >= 500 ? 'error' : 'info',
        },
      }),
    }),
  ],
})
export class LoggingModule {}
