import { type DynamicModule, Module, type Provider } from '@nestjs/common';
import { APP_FILTER, APP_GUARD } from '@nestjs/core';
import { resolveOptions, TESSERA_VERIFIER_OPTIONS, type TesseraVerifierAsyncOptions, type TesseraVerifierOptions } from './options.js';
import { ProblemFilter } from './problems.js';
import { TesseraGuard } from './tessera.guard.js';
import { defaultLogger, TesseraVerifier } from './verifier.service.js';

/**
 * Protects a Nest service with Tessera's access tokens, verified locally, with every revocation
 * seen through the feed. Global: import it once, in the root module.
 */
@Module({})
export class TesseraVerifierModule {
  static forRoot(options: TesseraVerifierOptions): DynamicModule {
    return TesseraVerifierModule.build(
      { provide: TESSERA_VERIFIER_OPTIONS, useValue: resolveOptions(options, defaultLogger()) },
      options.globalGuard ?? true,
    );
  }

  /** Options from a factory (ConfigService…). `globalGuard` is given here: it decides which providers exist. */
  static forRootAsync(options: TesseraVerifierAsyncOptions): DynamicModule {
    const factory = options.useFactory as (...args: unknown[]) => TesseraVerifierOptions | Promise<TesseraVerifierOptions>;
    const module = TesseraVerifierModule.build(
      {
        provide: TESSERA_VERIFIER_OPTIONS,
        useFactory: async (...args: unknown[]) => resolveOptions(await factory(...args), defaultLogger()),
        inject: options.inject ?? [],
      },
      options.globalGuard ?? true,
    );
    return { ...module, imports: options.imports ?? [] };
  }

  private static build(optionsProvider: Provider, globalGuard: boolean): DynamicModule {
    const providers: Provider[] = [optionsProvider, TesseraVerifier, TesseraGuard, { provide: APP_FILTER, useClass: ProblemFilter }];
    if (globalGuard) providers.push({ provide: APP_GUARD, useExisting: TesseraGuard });
    return {
      module: TesseraVerifierModule,
      global: true,
      providers,
      exports: [TesseraVerifier, TesseraGuard, TESSERA_VERIFIER_OPTIONS],
    };
  }
}
