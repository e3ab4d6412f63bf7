import { type DynamicModule, Logger, Module } from '@nestjs/common';
import type { ConfigType } from '@nestjs/config';
import { authConfig, storageConfig } from '../../config/configuration.js';
import { announceDevelopmentKey, KeyService } from './key.service.js';
import { DeviceTokens } from './device-token.js';
import { RefreshTokenCodec, SuccessorSealer } from './refresh-token.js';
import { ServerSecrets } from '../../secrets/server-secrets.js';

/** What the preflight loaded, once, before Nest starts. */
export interface LoadedKeys {
  keys: KeyService;
  serverSecrets: { secrets: ServerSecrets; generated: boolean; file: string };
}

/**
 * The signing keys and Tessera's own secrets (SERVER_SECRETS), as the preflight loaded them (once,
 * at start-up), and what is made from them. Global: sessions/ and tokens/ consumers alike.
 */
@Module({})
export class KeysModule {
  static forRoot(loaded: LoadedKeys): DynamicModule {
    return {
      module: KeysModule,
      global: true,
      providers: [
        {
          provide: KeyService,
          inject: [authConfig.KEY, storageConfig.KEY],
          useFactory: (auth: ConfigType<typeof authConfig>, storage: ConfigType<typeof storageConfig>) => {
            // Logged here rather than by the preflight: Nest's logger (pino, LOG_LEVEL) runs by now.
            if (!auth.privateKeyFile) announceDevelopmentKey(storage);
            // Which key signs and which are accepted: what an operator checks at each step of a rotation.
            const { signing, jwks } = loaded.keys;
            new Logger('Keys').log(`Signing with kid ${signing.kid}; accepting kids ${jwks.keys.map((k) => k.kid).join(', ')}`);
            return loaded.keys;
          },
        },
        {
          provide: ServerSecrets,
          useFactory: () => {
            const { secrets, generated, file } = loaded.serverSecrets;
            if (generated) new Logger('Keys').warn(`Using the development server secret ${file}; set SERVER_SECRETS in production`);
            return secrets;
          },
        },
        {
          provide: RefreshTokenCodec,
          inject: [ServerSecrets, KeyService],
          // The private signing keys only read tokens minted before SERVER_SECRETS existed: all of them,
          // as the one that tagged those may no longer be first (see legacyKey).
          useFactory: (secrets: ServerSecrets, keys: KeyService) => new RefreshTokenCodec(secrets, keys.legacyTagKeys),
        },
        { provide: SuccessorSealer, inject: [ServerSecrets], useFactory: (secrets: ServerSecrets) => new SuccessorSealer(secrets) },
        { provide: DeviceTokens, inject: [ServerSecrets], useFactory: (secrets: ServerSecrets) => new DeviceTokens(secrets) },
      ],
      exports: [KeyService, ServerSecrets, RefreshTokenCodec, SuccessorSealer, DeviceTokens],
    };
  }
}
