import { type DynamicModule, Module } from '@nestjs/common';
import { TesseraVerifierModule, type TesseraVerifierOptions } from '@tessera/verifier';
import { TesseraStrategy } from '@tessera/verifier/passport';
import { DownstreamController } from './downstream.controller.js';

export interface DownstreamConfig {
  port: number;
  verifier: TesseraVerifierOptions;
}

/** `TESSERA_CLIENT` is `id:secret` (the first colon splits; a secret may contain more). */
export function configFromEnv(env: NodeJS.ProcessEnv = process.env): DownstreamConfig {
  const client = env.TESSERA_CLIENT ?? 'example-downstream:development-only-downstream-secret';
  const colon = client.indexOf(':');
  if (colon <= 0 || colon === client.length - 1)
    throw new Error('TESSERA_CLIENT must be "id:secret" (a credential from Tessera\'s SERVICE_CLIENTS)');
  const port = Number(env.DOWNSTREAM_PORT ?? 3001);
  if (!Number.isInteger(port) || port < 0 || port > 65535) throw new Error('DOWNSTREAM_PORT must be a port number');
  return {
    port,
    verifier: {
      tesseraUrl: env.TESSERA_URL ?? 'http://localhost:3000',
      clientId: client.slice(0, colon),
      clientSecret: client.slice(colon + 1),
      issuer: env.JWT_ISSUER,
      audience: env.JWT_AUDIENCE,
      maxStalenessMs: env.MAX_STALENESS_MS ? Number(env.MAX_STALENESS_MS) : undefined,
    },
  };
}

@Module({})
export class DownstreamModule {
  static forRoot(verifier: TesseraVerifierOptions): DynamicModule {
    return {
      module: DownstreamModule,
      imports: [TesseraVerifierModule.forRoot(verifier)],
      controllers: [DownstreamController],
      providers: [TesseraStrategy],
    };
  }
}
