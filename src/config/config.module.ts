import { Global, Module } from '@nestjs/common';
import { ConfigModule } from '@nestjs/config';
import { appConfig, auditConfig, authConfig, storageConfig, throttleConfig } from './configuration.js';

@Global()
@Module({
  imports: [
    ConfigModule.forRoot({
      isGlobal: true,
      ignoreEnvFile: true,
      cache: true,
      load: [appConfig, authConfig, storageConfig, throttleConfig, auditConfig],
    }),
  ],
})
export class AppConfigModule {}
