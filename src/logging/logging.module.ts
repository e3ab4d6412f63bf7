import { Module } from '@nestjs/common';
import type { ConfigType } from '@nestjs/config';
import { LoggerModule } from 'nestjs-pino';
import { appConfig } from '../config/configuration.js';

/**
 * Structured JSON logs through nestjs-pino (Nest's logger is pino). Request lines are written by a
 * Fastify onResponse hook (app.setup.ts), not by pino-http middleware: the middleware runs through
 * @fastify/middie and an AsyncLocalStorage on every request, which `npm run bench` showed costing a
 * fifth of a request's CPU. Headers are never logged: they carry tokens and cookies.
 */
@Module({
  imports: [
    LoggerModule.forRootAsync({
      inject: [appConfig.KEY],
      useFactory: (app: ConfigType<typeof appConfig>) => ({
        // No per-request middleware (see above); the root logger is still built from `pinoHttp`.
        forRoutes: [],
        pinoHttp: {
          level: app.logLevel,
          // Belt and braces: should anything log these fields, they are censored.
          redact: [
            'req.headers.authorization',
            'req.headers.cookie',
            'res.headers["set-cookie"]',
            '*.password',
            '*.refreshToken',
            '*.accessToken',
          ],
        },
      }),
    }),
  ],
})
export class LoggingModule {}
