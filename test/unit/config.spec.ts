import { describe, expect, test } from '@jest/globals';
import { ConfigError } from '../../src/config/config-error.js';
import { parseAppConfig, parseAuditConfig, parseAuthConfig, parseStorageConfig, parseThrottleConfig, validateEnvironment } from '../../src/config/configuration.js';
import { parseDurationSeconds } from '../../src/config/duration.js';

describe('durations', () => {
  test.each([
    ['90s', 90],
    ['15m', 900],
    ['12h', 43200],
    ['7d', 604800],
    ['30', 30],
    [' 5m ', 300],
  ])('%s is %d seconds', (input, seconds) => {
    expect(parseDurationSeconds(input)).toBe(seconds);
  });

  test.each(['', '0s', '-5m', '1.5h', '15 minutes', '7w', 'm', '1e3'])('%j is refused', (input) => {
    expect(parseDurationSeconds(input)).toBeUndefined();
  });
});

describe('configuration', () => {
  test('defaults match the contract', () => {
    const auth = parseAuthConfig({});
    expect(auth).toMatchObject({
      issuer: 'tessera',
      audience: 'tessera-api',
      accessTokenTtl: 900,
      refreshTokenTtl: 7 * 86400,
      sessionMaxLifetime: 30 * 86400,
      refreshReuseGraceSeconds: 10,
      maxSessionsPerUser: 10,
      cookieSecure: true,
      cookieName: '__Secure-refresh_token',
      cookiePath: '/auth',
    });
    expect(parseAuthConfig({ COOKIE_SECURE: 'false' }).cookieName).toBe('refresh_token');
    expect(parseThrottleConfig({})).toEqual({ ttlSeconds: 60, loginLimit: 5, refreshLimit: 60, limit: 100 });
    expect(parseAppConfig({})).toMatchObject({ port: 3000, corsOrigins: [], trustProxy: false, demoPage: true });
    expect(parseAppConfig({ NODE_ENV: 'production' }).demoPage).toBe(false);
    expect(parseStorageConfig({})).toMatchObject({ databaseUrl: undefined, redisUrl: undefined });
    expect(parseAuditConfig({})).toEqual({ retentionSeconds: 90 * 86400 });
    expect(parseAuditConfig({ AUDIT_RETENTION: '30d' })).toEqual({ retentionSeconds: 30 * 86400 });
  });

  test.each([
    [{ ACCESS_TOKEN_TTL: '15 minutes' }, 'ACCESS_TOKEN_TTL'],
    [{ REFRESH_TOKEN_TTL: '0' }, 'REFRESH_TOKEN_TTL'],
    [{ SESSION_MAX_LIFETIME: '1d' }, 'SESSION_MAX_LIFETIME'],
    [{ PORT: 'eighty' }, 'PORT'],
    [{ PORT: '70000' }, 'PORT'],
    [{ MAX_SESSIONS_PER_USER: '0' }, 'MAX_SESSIONS_PER_USER'],
    [{ REFRESH_REUSE_GRACE_SECONDS: '-1' }, 'REFRESH_REUSE_GRACE_SECONDS'],
    [{ COOKIE_SECURE: 'maybe' }, 'COOKIE_SECURE'],
    [{ REDIS_URL: 'http://localhost:6379' }, 'REDIS_URL'],
    [{ DATABASE_URL: 'not a url' }, 'DATABASE_URL'],
    [{ CORS_ORIGINS: 'https://ok.example,not-an-origin' }, 'CORS_ORIGINS'],
    [{ CORS_ORIGINS: 'https://app.example/path' }, 'CORS_ORIGINS'],
    [{ TRUST_PROXY: 'everyone' }, 'TRUST_PROXY'],
    [{ TRUST_PROXY: '10.0.0.0/99' }, 'TRUST_PROXY'],
    [{ THROTTLE_LOGIN_LIMIT: 'many' }, 'THROTTLE_LOGIN_LIMIT'],
    [{ THROTTLE_TTL: 'soon' }, 'THROTTLE_TTL'],
    [{ BOOTSTRAP_ADMIN_EMAIL: 'admin@example.com', BOOTSTRAP_ADMIN_PASSWORD: 'short' }, 'BOOTSTRAP_ADMIN_PASSWORD'],
    [{ LOG_LEVEL: 'verbose' }, 'LOG_LEVEL'],
    [{ HOST: 'not_a_host' }, 'HOST'],
    [{ PUBLIC_ORIGIN: 'auth.example' }, 'PUBLIC_ORIGIN'],
    [{ AUDIT_RETENTION: '3 months' }, 'AUDIT_RETENTION'],
  ])('%j stops start-up with one line naming %s', (env, variable) => {
    let error: unknown;
    try {
      validateEnvironment(env);
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(ConfigError);
    expect((error as ConfigError).variable).toBe(variable);
    expect((error as Error).message).toMatch(new RegExp(`^Invalid configuration: ${variable} `));
    expect((error as Error).message).not.toContain('\n');
  });

  test('TRUST_PROXY accepts the proxy-addr forms', () => {
    expect(parseAppConfig({ TRUST_PROXY: '1' }).trustProxy).toBe(1);
    expect(parseAppConfig({ TRUST_PROXY: 'true' }).trustProxy).toBe(true);
    expect(parseAppConfig({ TRUST_PROXY: 'loopback, 10.0.0.0/8, ::1' }).trustProxy).toEqual(['loopback', '10.0.0.0/8', '::1']);
  });
});
