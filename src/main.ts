import 'reflect-metadata';
import { Logger } from '@nestjs/common';
import type { ConfigType } from '@nestjs/config';
import { pino } from 'pino';
import { createApp } from './app.setup.js';
import { ConfigError } from './config/config-error.js';
import { appConfig } from './config/configuration.js';

async function bootstrap(): Promise<void> {
  const app = await createApp();
  const config = app.get<ConfigType<typeof appConfig>>(appConfig.KEY);
  // Start-up hooks (the bootstrap admin, whose password may be refused) run here, outside the
  // listen below, so their errors are not reported as PORT/HOST problems.
  await app.init();
  try {
    await app.listen({ port: config.port, host: config.host });
  } catch (error) {
    const { code, message } = error as NodeJS.ErrnoException;
    throw new ConfigError(code === 'EADDRINUSE' || code === 'EACCES' ? 'PORT' : 'HOST', `cannot be listened on (${message})`);
  }
  new Logger('Bootstrap').log(`Tessera listening on http://localhost:${config.port}${config.docs ? ' (Swagger UI at /docs)' : ''}`);
}

function rootCause(error: unknown): unknown {
  let current = error;
  for (let depth = 0; depth < 5 && current instanceof Error && !(current instanceof ConfigError) && current.cause; depth++) {
    current = current.cause;
  }
  return current;
}

bootstrap().catch((error: unknown) => {
  // The app's own logger may not exist yet (a bad LOG_LEVEL is itself a start-up failure), so a
  // plain pino logger writes the line, synchronously to stdout, in the same JSON as every other log.
  const logger = pino({ level: 'fatal' });
  const cause = rootCause(error);
  if (cause instanceof ConfigError) {
    // One clear line naming the variable, nothing else.
    logger.fatal({ context: 'Bootstrap', variable: cause.variable }, cause.message);
  } else {
    logger.fatal({ context: 'Bootstrap' }, `Tessera failed to start: ${error instanceof Error ? error.message : String(error)}`);
  }
  process.exit(1);
});
