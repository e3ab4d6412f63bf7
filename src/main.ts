import 'reflect-metadata';
import type { ConfigType } from '@nestjs/config';
import { createApp } from './app.setup.js';
import { ConfigError } from './config/config-error.js';
import { appConfig } from './config/configuration.js';

async function bootstrap(): Promise<void> {
  const app = await createApp();
  const config = app.get<ConfigType<typeof appConfig>>(appConfig.KEY);
  try {
    await app.listen({ port: config.port, host: config.host });
  } catch (error) {
    const { code, message } = error as NodeJS.ErrnoException;
    throw new ConfigError(code === 'EADDRINUSE' || code === 'EACCES' ? 'PORT' : 'HOST', `cannot be listened on (${message})`);
  }
  console.info(`Tessera listening on http://localhost:${config.port}${config.docs ? ' (Swagger UI at /docs)' : ''}`);
}

function rootCause(error: unknown): unknown {
  let current = error;
  for (let depth = 0; depth < 5 && current instanceof Error && !(current instanceof ConfigError) && current.cause; depth++) {
    current = current.cause;
  }
  return current;
}

bootstrap().catch((error: unknown) => {
  const cause = rootCause(error);
  if (cause instanceof ConfigError) {
    // One clear line naming the variable, nothing else.
    console.error(cause.message);
  } else {
    console.error('Tessera failed to start:', error instanceof Error ? error.message : error);
  }
  process.exit(1);
});
