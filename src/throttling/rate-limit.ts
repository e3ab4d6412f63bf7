import { applyDecorators, type CanActivate, type ExecutionContext, Inject, Injectable, SetMetadata, UseGuards } from '@nestjs/common';
import type { ConfigType } from '@nestjs/config';
import { Reflector } from '@nestjs/core';
import type { FastifyRequest } from 'fastify';
import { addressBucket } from '../common/address-bucket.js';
import { ApiProblems } from '../common/problems/api-problems.decorator.js';
import { Problems } from '../common/problems/problem.js';
import { throttleConfig } from '../config/configuration.js';
import { RATE_LIMIT_STORE, type RateLimitStore } from './rate-limit-store.js';

/*
 * Rate limiting is written here rather than with @nestjs/throttler: throttler 6 is CommonJS and
 * require()s the ESM-only @nestjs/common 12, which Jest cannot load on Node < 24.9, so the e2e
 * suites could not boot the real AppModule. The shape follows throttler's (named limits, a
 * tracker per limit, a storage interface) so moving back is easy once it ships ESM.
 */

export type RateLimitPolicy = 'refresh' | 'password' | 'register' | 'public' | 'mail' | 'email-change';

interface Rule {
  name: string;
  limit: (config: ConfigType<typeof throttleConfig>) => number;
  /** Who is counted: the client IP (TRUST_PROXY-aware) or the account a login names. */
  tracker: (request: FastifyRequest) => string;
}

export const byIp = (request: FastifyRequest) => `ip:${addressBucket(request.ip)}`;

const byUser = (request: FastifyRequest) => `user:${(request as { user?: { id?: string } }).user?.id ?? request.ip}`;

/*
 * Login limits are not here: they must see only validated bodies and count only failed password
 * checks (LoginThrottle, in auth/). The per-account refresh limit is charged by RefreshService
 * once the token's server tag verifies, so garbage naming a user id cannot block that user.
 */
const POLICIES: Record<RateLimitPolicy, Rule[]> = {
  refresh: [{ name: 'refresh-ip', limit: (c) => c.refreshLimit, tracker: byIp }],
  // Password changes guess the current password: limited like logins, per authenticated user.
  password: [{ name: 'password-user', limit: (c) => c.loginLimit, tracker: byUser }],
  // Each registration costs the server a full argon2 hash: a tighter limit of its own, on top of
  // the general one for public writes.
  register: [
    { name: 'public-ip', limit: (c) => c.limit, tracker: byIp },
    { name: 'register-ip', limit: (c) => c.registerLimit, tracker: byIp },
  ],
  public: [{ name: 'public-ip', limit: (c) => c.limit, tracker: byIp }],
  // Routes that send mail (verification, forgot password): THROTTLE_MAIL_LIMIT per IP, so one
  // client cannot make Tessera mail many addresses. The per-account cap is the service's (it must
  // answer alike whether or not the account exists).
  mail: [
    { name: 'public-ip', limit: (c) => c.limit, tracker: byIp },
    { name: 'mail-ip', limit: (c) => c.mailLimit, tracker: byIp },
  ],
  // An email change mails two addresses and checks the current password: the mail limit per IP and
  // the password-guess limit per user (the same counter as password changes).
  'email-change': [
    { name: 'mail-ip', limit: (c) => c.mailLimit, tracker: byIp },
    { name: 'password-user', limit: (c) => c.loginLimit, tracker: byUser },
  ],
};

const RATE_LIMIT_POLICY = 'tessera:rateLimit';

@Injectable()
export class RateLimitGuard implements CanActivate {
  constructor(
    private readonly reflector: Reflector,
    @Inject(RATE_LIMIT_STORE) private readonly store: RateLimitStore,
    @Inject(throttleConfig.KEY) private readonly config: ConfigType<typeof throttleConfig>,
  ) {}

  async canActivate(context: ExecutionContext): Promise<boolean> {
    const policy = this.reflector.get<RateLimitPolicy | undefined>(RATE_LIMIT_POLICY, context.getHandler());
    if (!policy) return true;
    const request = context.switchToHttp().getRequest<FastifyRequest>();
    const windowMs = this.config.ttlSeconds * 1000;
    for (const rule of POLICIES[policy]) {
      const { hits, resetMs } = await this.store.hit(`${rule.name}:${rule.tracker(request)}`, windowMs);
      if (hits > rule.limit(this.config)) throw Problems.rateLimited(Math.max(1, Math.ceil(resetMs / 1000)));
    }
    return true;
  }
}

/** Applies a rate-limit policy to a route (limits from THROTTLE_* configuration) and documents its 429. */
export function RateLimit(policy: RateLimitPolicy) {
  return applyDecorators(SetMetadata(RATE_LIMIT_POLICY, policy), UseGuards(RateLimitGuard), ApiProblems([429]));
}

/**
 * Limits that a service applies itself, where a guard cannot: after validation, or only once
 * something has been verified (a failed password check, a refresh token's server tag).
 */
@Injectable()
export class RateLimiter {
  private readonly windowMs: number;

  constructor(
    @Inject(RATE_LIMIT_STORE) private readonly store: RateLimitStore,
    @Inject(throttleConfig.KEY) config: ConfigType<typeof throttleConfig>,
  ) {
    this.windowMs = config.ttlSeconds * 1000;
  }

  /** Counts one attempt of `who` under `name`; 429 once there have been more than `limit` this window. */
  async consume(name: string, who: string, limit: number): Promise<void> {
    const { hits, resetMs } = await this.store.hit(`${name}:${who}`, this.windowMs);
    if (hits > limit) throw Problems.rateLimited(retryAfterSeconds(resetMs));
  }

  /** Counts one event (e.g. a failed password check) without refusing anything. */
  async record(name: string, who: string): Promise<void> {
    await this.store.hit(`${name}:${who}`, this.windowMs);
  }

  /**
   * Takes one of `limit` slots atomically (a counter increment), so parallel attempts cannot all
   * pass a check made before any of them is counted. Returns undefined when a slot was taken, else
   * the Retry-After seconds (and the hit is handed back). `release` returns a slot not used up.
   * `windowMs`: a window of its own instead of THROTTLE_TTL.
   */
  async reserve(name: string, who: string, limit: number, windowMs = this.windowMs): Promise<number | undefined> {
    const key = `${name}:${who}`;
    const { hits, resetMs } = await this.store.hit(key, windowMs);
    if (hits <= limit) return undefined;
    await this.store.release(key);
    return retryAfterSeconds(resetMs);
  }

  async release(name: string, who: string): Promise<void> {
    await this.store.release(`${name}:${who}`);
  }

  /** Forgets `who`'s window under `name` (a count that a success ends). */
  async reset(name: string, who: string): Promise<void> {
    await this.store.reset(`${name}:${who}`);
  }

  /**
   * Counts one event of `who` in a window of its own (`windowMs`, not THROTTLE_TTL) and says
   * whether it is within `limit`. Refuses nothing itself: for caps whose excess is dropped
   * silently (a mail not sent) rather than answered with 429.
   */
  async withinCap(name: string, who: string, limit: number, windowMs: number): Promise<boolean> {
    const { hits } = await this.store.hit(`${name}:${who}`, windowMs);
    return hits <= limit;
  }

  /** Seconds until the window ends when `limit` events have already been counted; undefined while under it. */
  async exhausted(name: string, who: string, limit: number): Promise<number | undefined> {
    const { hits, resetMs } = await this.store.peek(`${name}:${who}`);
    return hits >= limit ? retryAfterSeconds(resetMs) : undefined;
  }
}

const retryAfterSeconds = (resetMs: number) => Math.max(1, Math.ceil(resetMs / 1000));
