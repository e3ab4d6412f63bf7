import { describe, expect, test } from '@jest/globals';
import type { ExecutionContext } from '@nestjs/common';
import { Reflector } from '@nestjs/core';
import { ProblemException } from '../../common/problems/problem.js';
import { RecentAuth } from '../decorators/auth.decorators.js';
import type { AuthenticatedUser } from '../tokens/access-token.js';
import { ACR_AAL1, ACR_AAL2 } from '../tokens/authentication-context.js';
import { RecentAuthGuard } from './recent-auth.guard.js';

const DEFAULT_MAX_AGE = 300;

/** A handler decorated as a route would be; undefined for none. */
function handlerWith(decorator?: MethodDecorator): unknown {
  class Routes {
    route(this: void) {}
  }
  const descriptor = Object.getOwnPropertyDescriptor(Routes.prototype, 'route')!;
  if (decorator) decorator(Routes.prototype, 'route', descriptor);
  return descriptor.value;
}

function check(decorator: MethodDecorator | undefined, user: Partial<AuthenticatedUser> | undefined) {
  const guard = new RecentAuthGuard(new Reflector(), { reauthMaxAgeSeconds: DEFAULT_MAX_AGE } as never);
  const handler = handlerWith(decorator);
  const context = {
    getHandler: () => handler,
    getClass: () => class {},
    switchToHttp: () => ({ getRequest: () => ({ user: user && { id: 'u', sessionId: 's', roles: ['user'], ...user } }) }),
  } as unknown as ExecutionContext;
  try {
    return { passed: guard.canActivate(context) };
  } catch (error) {
    if (!(error instanceof ProblemException)) throw error;
    return { status: error.getStatus(), code: error.code, challenge: error.headers['WWW-Authenticate'] };
  }
}

const secondsAgo = (seconds: number) => Date.now() - seconds * 1000;
const password = (ageSeconds: number) => ({ authTime: secondsAgo(ageSeconds), amr: ['pwd' as const], acr: ACR_AAL1 });
const twoFactors = (ageSeconds: number) => ({
  authTime: secondsAgo(ageSeconds),
  amr: ['pwd' as const, 'otp' as const, 'mfa' as const],
  acr: ACR_AAL2,
});

describe('RecentAuthGuard', () => {
  test('routes without @RecentAuth() are not its business', () => {
    expect(check(undefined, password(86_400))).toEqual({ passed: true });
  });

  test('REAUTH_MAX_AGE by default: younger passes, older is reauthentication_required with max_age', () => {
    expect(check(RecentAuth(), password(DEFAULT_MAX_AGE - 5))).toEqual({ passed: true });
    expect(check(RecentAuth(), password(DEFAULT_MAX_AGE + 5))).toEqual({
      status: 401,
      code: 'reauthentication_required',
      challenge: `Bearer error="insufficient_user_authentication", max_age=${DEFAULT_MAX_AGE}`,
    });
  });

  test("a route's own maximum age, in seconds or as a duration", () => {
    expect(check(RecentAuth(60), password(50))).toEqual({ passed: true });
    expect(check(RecentAuth(60), password(70))).toMatchObject({ challenge: 'Bearer error="insufficient_user_authentication", max_age=60' });
    expect(check(RecentAuth('10m'), password(500))).toEqual({ passed: true });
    expect(check(RecentAuth('10m'), password(700))).toMatchObject({
      challenge: 'Bearer error="insufficient_user_authentication", max_age=600',
    });
  });

  test('acr aal2: a recent password alone is not enough (acr_values in the challenge); two factors are', () => {
    const aal2 = RecentAuth(undefined, { acr: ACR_AAL2 });
    expect(check(aal2, password(1))).toEqual({
      status: 401,
      code: 'reauthentication_required',
      challenge: `Bearer error="insufficient_user_authentication", max_age=${DEFAULT_MAX_AGE}, acr_values="urn:tessera:aal2"`,
    });
    expect(check(aal2, twoFactors(1))).toEqual({ passed: true });
    // Two factors, but too long ago: max_age only.
    expect(check(aal2, twoFactors(DEFAULT_MAX_AGE + 5))).toMatchObject({
      challenge: `Bearer error="insufficient_user_authentication", max_age=${DEFAULT_MAX_AGE}`,
    });
    // aal2 satisfies a route that asks for aal1.
    expect(check(RecentAuth(undefined, { acr: ACR_AAL1 }), twoFactors(1))).toEqual({ passed: true });
  });

  test('a route that ran without a token is refused with missing_token', () => {
    expect(check(RecentAuth(), undefined)).toMatchObject({ status: 401, code: 'missing_token' });
  });

  test('a maximum age that is not a positive duration is refused when the route is declared', () => {
    for (const bad of [0, -5, 1.5, 'soon', '0s']) expect(() => RecentAuth(bad)).toThrow(/maxAge/);
  });
});
