import { join } from 'node:path';
import { Logger, Module } from '@nestjs/common';
import type { ConfigType } from '@nestjs/config';
import { appConfig, authConfig, storageConfig } from '../../config/configuration.js';
import { KeyService } from './key.service.js';
import { DeviceTokens } from './device-token.js';
import { RefreshTokenCodec, SuccessorSealer } from './refresh-token.js';
import { ServerSecrets } from './server-secrets.js';

/** The signing keys and Tessera's own secrets (SERVER_SECRETS), loaded once at start-up. */
@Module({
  providers: [
    {
      provide: KeyService,
      inject: [authConfig.KEY, storageConfig.KEY, appConfig.KEY],
      useFactory: (auth: ConfigType<typeof authConfig>, storage: ConfigType<typeof storageConfig>, app: ConfigType<typeof appConfig>) =>
        KeyService.load(auth, storage, app),
    },
    {
      provide: ServerSecrets,
      inject: [authConfig.KEY, storageConfig.KEY],
      useFactory: async (auth: ConfigType<typeof authConfig>, storage: ConfigType<typeof storageConfig>) => {
        const file = join(storage.dataDir, 'keys', 'server-secrets');
        const { secrets, generated } = await ServerSecrets.load(auth.serverSecrets, file);
        if (generated) new Logger('Keys').warn(`Using the development server secret ${file}; set SERVER_SECRETS in production`);
        return secrets;
      },
    },
    {
      provide: RefreshTokenCodec,
      inject: [ServerSecrets, KeyService],
      // The signing key only reads tokens minted before SERVER_SECRETS existed (see legacyKey).
      useFactory: (secrets: ServerSecrets, keys: KeyService) => new RefreshTokenCodec(secrets, keys.signing.privateKey),
    },
    { provide: SuccessorSealer, inject: [ServerSecrets], useFactory: (secrets: ServerSecrets) => new SuccessorSealer(secrets) },
    { provide: DeviceTokens, inject: [ServerSecrets], useFactory: (secrets: ServerSecrets) => new DeviceTokens(secrets) },
  ],
  exports: [KeyService, ServerSecrets, RefreshTokenCodec, SuccessorSealer, DeviceTokens],
})
export class KeysModule {}
