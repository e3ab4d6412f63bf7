import { type DynamicModule, Module } from '@nestjs/common';
import {
  accountsConfig,
  appConfig,
  auditConfig,
  authConfig,
  type Config,
  mailConfig,
  storageConfig,
  throttleConfig,
} from './configuration.js';

/** The configuration the preflight parsed (once), under each namespace's token, for every module. */
@Module({})
export class AppConfigModule {
  static forRoot(config: Config): DynamicModule {
    const providers = [
      { provide: appConfig.KEY, useValue: config.app },
      { provide: authConfig.KEY, useValue: config.auth },
      { provide: storageConfig.KEY, useValue: config.storage },
      { provide: throttleConfig.KEY, useValue: config.throttle },
      { provide: auditConfig.KEY, useValue: config.audit },
      { provide: mailConfig.KEY, useValue: config.mail },
      { provide: accountsConfig.KEY, useValue: config.accounts },
    ];
    return { module: AppConfigModule, global: true, providers, exports: providers };
  }
}
