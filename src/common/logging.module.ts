import { randomUUID } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { Module } from '@nestjs/common';
import type { ConfigType } from '@nestjs/config';
import { LoggerModule } from 'nestjs-pino';
import { appConfig } from '../config/configuration.js';

const REQUEST_ID = /^[A-Za-z0-9._-]{1,64}$/;

/** Structured logs with a request id. Headers are never logged: they carry tokens and cookies. */
@Module({
  imports: [
    LoggerModule.forRootAsync({
      inject: [appConfig.KEY],
      useFactory: (app: ConfigType<typeof appConfig>) => ({
        pinoHttp: {
          level: app.logLevel,
          genReqId: (request: IncomingMessage, response: ServerResponse) => {
            const incoming = request.headers['x-request-id'];
            const id = typeof incoming === 'string' && REQUEST_ID.test(incoming) ? incoming : randomUUID();
            response.setHeader('x-request-id', id);
            return id;
          },
          serializers: {
            req: (request: { id: string; method: string; url: string; remoteAddress?: string }) => ({
              id: request.id,
              method: request.method,
              path: request.url?.split('?')[0],
            }),
            res: (response: { statusCode: number }) => ({ statusCode: response.statusCode }),
          },
          // Belt and braces: should anything log these fields, they are censored.
          redact: ['req.headers.authorization', 'req.headers.cookie', 'res.headers["set-cookie"]', '*.password', '*.refreshToken', '*.accessToken'],
          customLogLevel: (_req: IncomingMessage, res: ServerResponse, error?: Error) =>
            error || res.statusCode >= 500 ? 'error' : res.statusCode >= 400 ? 'info' : 'debug',
        },
      }),
    }),
  ],
})
export class LoggingModule {}
