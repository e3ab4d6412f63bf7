import { type CanActivate, type ExecutionContext, Inject, Injectable, SetMetadata } from '@nestjs/common';
import type { ConfigType } from '@nestjs/config';
import { Reflector } from '@nestjs/core';
import type { FastifyRequest } from 'fastify';
import { addressBucket } from '../common/address-bucket.js';
import { Problems } from '../common/problems/problem.js';
import { throttleConfig } from '../config/configuration.js';
import { ServiceClientGuard, type ServiceClientPrincipal } from '../auth/guards/service-client.guard.js';
import { RateLimiter } from '../throttling/rate-limit.js';

const CLIENT_OPTIONAL = 'tessera:oauthClientOptional';

/** RFC 7009: a client credential is accepted but not required; if one is sent it must be valid. */
export const ClientAuthenticationOptional = () => SetMetadata(CLIENT_OPTIONAL, true);

/**
 * Client authentication for /oauth/* (HTTP Basic from SERVICE_CLIENTS, checked by
 * ServiceClientGuard's constant-time comparison). Failed attempts are counted per IP
 * (THROTTLE_LOGIN_LIMIT per THROTTLE_TTL, then 429 for further wrong ones): guessing a client
 * secret is the attack here, while a service with its right credential is never throttled (nor
 * costs a rate-limit read), even from an address a guesser shares.
 */
@Injectable()
export class OAuthClientGuard implements CanActivate {
  constructor(
    private readonly reflector: Reflector,
    private readonly clients: ServiceClientGuard,
    private readonly limiter: RateLimiter,
    @Inject(throttleConfig.KEY) private readonly throttle: ConfigType<typeof throttleConfig>,
  ) {}

  async canActivate(context: ExecutionContext): Promise<boolean> {
    const request = context.switchToHttp().getRequest<FastifyRequest & { serviceClient?: ServiceClientPrincipal }>();
    const header = request.headers.authorization;
    if (header === undefined && this.reflector.get<boolean | undefined>(CLIENT_OPTIONAL, context.getHandler())) return true;
    // The credential first: a valid one is never throttled, so wrong secrets sent from a shared
    // address (a NAT, a sidecar, a proxy) cannot lock real services out of introspection; only the
    // guesser's further attempts are refused. The secrets are long and random: the limit stops
    // guessing, it does not need to stop the owner.
    const client = this.clients.authenticate(header);
    if (client) {
      request.serviceClient = client;
      return true;
    }
    const who = addressBucket(request.ip);
    const limited = await this.limiter.exhausted('oauth-client-ip', who, this.throttle.loginLimit);
    if (limited !== undefined) throw Problems.rateLimited(limited);
    await this.limiter.record('oauth-client-ip', who);
    throw Problems.invalidClient();
  }
}
