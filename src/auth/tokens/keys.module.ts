import { Module } from '@nestjs/common';
import type { ConfigType } from '@nestjs/config';
import { appConfig, authConfig, storageConfig } from '../../config/configuration.js';
import { KeyService } from './key.service.js';
import { RefreshTokenCodec, SuccessorSealer } from './refresh-token.js';

/** The signing key and what is derived from it, loaded once at start-up. */
@Module({
  providers: [
    {
      provide: KeyService,
      inject: [authConfig.KEY, storageConfig.KEY, appConfig.KEY],
      useFactory: (auth: ConfigType<typeof authConfig>, storage: ConfigType<typeof storageConfig>, app: ConfigType<typeof appConfig>) =>
        KeyService.load(auth, storage, app),
    },
    { provide: RefreshTokenCodec, inject: [KeyService], useFactory: (keys: KeyService) => new RefreshTokenCodec(keys.signing.privateKey) },
    { provide: SuccessorSealer, inject: [KeyService], useFactory: (keys: KeyService) => new SuccessorSealer(keys.signing.privateKey) },
  ],
  exports: [KeyService, RefreshTokenCodec, SuccessorSealer],
})
export class KeysModule {}
