import { join } from 'node:path';
import { KeyService } from './auth/tokens/key.service.js';
import type { LoadedKeys } from './auth/tokens/keys.module.js';
import { ServerSecrets } from './secrets/server-secrets.js';
import { type Config, parseConfig } from './config/configuration.js';
import { MailTemplates } from './mail/templates.js';

/** Everything start-up can trip on, checked before Nest starts; AppModule.forRoot takes it as it is. */
export interface Preflight extends LoadedKeys {
  config: Config;
  /** Read and checked here, so a missing file or a typo in a placeholder is one clear line too. */
  mailTemplates: MailTemplates;
}

/**
 * Parses the configuration once and loads the signing keys and SERVER_SECRETS once (generating the
 * development ones on a first start), and the mail templates. A bad value, an unusable key or a
 * broken template throws a ConfigError: main.ts prints it as one clear line instead of a Nest stack trace.
 */
export async function preflight(env: Record<string, string | undefined>): Promise<Preflight> {
  const config = parseConfig(env);
  const keys = await KeyService.load(config.auth, config.storage, config.app, false);
  const file = join(config.storage.dataDir, 'keys', 'server-secrets');
  const { secrets, generated } = await ServerSecrets.load(config.auth.serverSecrets, file);
  const mailTemplates = await MailTemplates.load(config.mail.templatesDir);
  return { config, keys, serverSecrets: { secrets, generated, file }, mailTemplates };
}
