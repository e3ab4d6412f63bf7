import { Global, Module } from '@nestjs/common';
import { ConfigModule } from '@nestjs/config';
import { appConfig, authConfig, storageConfig, throttleConfig } from './configuration.js';

@Global()
@Module({
  imports: [
    ConfigModule.forRoot({
      isGlobal: true,
      ignoreEnvFile: true,
      cache: true,
      load: [appConfig, authConfig, storageConfig, throttleConfig],
    }),
  ],
})
export class AppConfigModule {}
