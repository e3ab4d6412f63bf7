import { join } from 'node:path';
import { KeyService } from './auth/tokens/key.service.js';
import type { LoadedKeys } from './auth/tokens/keys.module.js';
import { ServerSecrets } from './secrets/server-secrets.js';
import { type Config, parseConfig } from './config/configuration.js';

/** Everything start-up can trip on, checked before Nest starts; AppModule.forRoot takes it as it is. */
export interface Preflight extends LoadedKeys {
  config: Config;
}

/**
 * Parses the configuration once and loads the signing keys and SERVER_SECRETS once (generating the
 * development ones on a first start). A bad value or an unusable key throws a ConfigError: main.ts
 * prints it as one clear line instead of a Nest stack trace.
 */
export async function preflight(env: Record<string, string | undefined>): Promise<Preflight> {
  const config = parseConfig(env);
  const keys = await KeyService.load(config.auth, config.storage, config.app, false);
  const file = join(config.storage.dataDir, 'keys', 'server-secrets');
  const { secrets, generated } = await ServerSecrets.load(config.auth.serverSecrets, file);
  return { config, keys, serverSecrets: { secrets, generated, file } };
}
