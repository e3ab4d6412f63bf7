import { type CanActivate, type ExecutionContext, Inject, Injectable } from '@nestjs/common';
import type { ConfigType } from '@nestjs/config';
import { createHash, timingSafeEqual } from 'node:crypto';
import type { FastifyRequest } from 'fastify';
import { Problems } from '../../common/problems/problem.js';
import { authConfig } from '../../config/configuration.js';

/** The service client a request was authenticated as (see @CurrentServiceClient()). */
export interface ServiceClientPrincipal {
  id: string;
}

const digest = (value: string) => createHash('sha256').update(value, 'utf8').digest();

/**
 * Parses `Authorization: Basic` as RFC 6749 §2.3.1 says: base64 of `id:secret`, each part
 * form-urlencoded first (so ':' and non-ASCII survive). Undefined when it is not that.
 */
export function parseBasicCredentials(header: string | undefined): { id: string; secret: string } | undefined {
  const match = /^Basic ([A-Za-z0-9+/]+=*)$/i.exec(header?.trim() ?? '');
  if (!match) return undefined;
  const decoded = Buffer.from(match[1], 'base64').toString('utf8');
  const colon = decoded.indexOf(':');
  if (colon < 0) return undefined;
  try {
    const formDecode = (part: string) => decodeURIComponent(part.replace(/\+/g, ' '));
    return { id: formDecode(decoded.slice(0, colon)), secret: formDecode(decoded.slice(colon + 1)) };
  } catch {
    return undefined;
  }
}

/**
 * Authenticates another service (the revocation feed, introspection) with a credential from
 * SERVICE_CLIENTS sent as HTTP Basic. Secrets are compared as SHA-256 digests with
 * timingSafeEqual, and an unknown id is compared against a dummy, so timing tells nothing about
 * which ids or secrets exist. Sets `request.serviceClient`; never `request.user` (no user acts).
 */
@Injectable()
export class ServiceClientGuard implements CanActivate {
  private readonly secrets: ReadonlyMap<string, Buffer>;
  private readonly dummy = digest('no such client');

  constructor(@Inject(authConfig.KEY) auth: ConfigType<typeof authConfig>) {
    this.secrets = new Map(auth.serviceClients.map((client) => [client.id, digest(client.secret)]));
  }

  /** The client these credentials belong to, or undefined. */
  authenticate(header: string | undefined): ServiceClientPrincipal | undefined {
    const credentials = parseBasicCredentials(header);
    if (!credentials) return undefined;
    const expected = this.secrets.get(credentials.id);
    const matches = timingSafeEqual(digest(credentials.secret), expected ?? this.dummy);
    return matches && expected !== undefined ? { id: credentials.id } : undefined;
  }

  canActivate(context: ExecutionContext): boolean {
    const request = context.switchToHttp().getRequest<FastifyRequest & { serviceClient?: ServiceClientPrincipal }>();
    const client = this.authenticate(request.headers.authorization);
    if (!client) throw Problems.invalidClient();
    request.serviceClient = client;
    return true;
  }
}
