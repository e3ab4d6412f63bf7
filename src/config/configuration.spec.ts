import { afterAll, beforeAll, describe, expect, test } from '@jest/globals';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ConfigError } from './config-error.js';
import {
  DEVELOPMENT_SERVICE_CLIENT,
  parseAppConfig,
  parseAuditConfig,
  parseAuthConfig,
  parseStorageConfig,
  parseThrottleConfig,
  validateEnvironment,
} from './configuration.js';
import { parseDurationSeconds } from './duration.js';

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
    expect(parseThrottleConfig({})).toEqual({
      ttlSeconds: 60,
      loginLimit: 5,
      refreshLimit: 60,
      limit: 100,
      registerLimit: 10,
      mailLimit: 5,
    });
    expect(parseAppConfig({})).toMatchObject({ port: 3000, corsOrigins: [], trustProxy: false, demoPage: true });
    expect(parseAppConfig({ NODE_ENV: 'production', PUBLIC_ORIGIN: 'https://auth.example.com' }).demoPage).toBe(false);
    expect(parseStorageConfig({})).toMatchObject({ databaseUrl: undefined, redisUrl: undefined });
    expect(parseStorageConfig({})).toMatchObject({ redisCluster: undefined, redisSentinel: undefined, redisWaitReplicas: 0 });
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
    [{ LOG_LEVEL: 'verbose' }, 'LOG_LEVEL'],
    [{ HOST: 'not_a_host' }, 'HOST'],
    [{ PUBLIC_ORIGIN: 'auth.example' }, 'PUBLIC_ORIGIN'],
    [{ REQUEST_TIMEOUT: 'forever' }, 'REQUEST_TIMEOUT'],
    [{ REQUEST_TIMEOUT: '0' }, 'REQUEST_TIMEOUT'],
    [{ HEADERS_TIMEOUT: '5 seconds' }, 'HEADERS_TIMEOUT'],
    [{ KEEP_ALIVE_TIMEOUT: '-1' }, 'KEEP_ALIVE_TIMEOUT'],
    [{ MAX_PENDING_REQUESTS_PER_CLIENT: '0' }, 'MAX_PENDING_REQUESTS_PER_CLIENT'],
    [{ MAX_PENDING_REQUESTS_PER_CLIENT: 'lots' }, 'MAX_PENDING_REQUESTS_PER_CLIENT'],
    [{ THROTTLE_REGISTER_LIMIT: '0' }, 'THROTTLE_REGISTER_LIMIT'],
    [{ PASSWORD_HASH_CONCURRENCY: '0' }, 'PASSWORD_HASH_CONCURRENCY'],
    [{ PASSWORD_HASH_CONCURRENCY: '100' }, 'PASSWORD_HASH_CONCURRENCY'],
    [{ PASSWORD_HASH_QUEUE: '-1' }, 'PASSWORD_HASH_QUEUE'],
    [{ BOOTSTRAP_ADMIN_EMAIL: 'ad\u200bmin@example.com', BOOTSTRAP_ADMIN_PASSWORD: 'long enough password' }, 'BOOTSTRAP_ADMIN_EMAIL'],
    [{ AUDIT_RETENTION: '3 months' }, 'AUDIT_RETENTION'],
    [{ REAUTH_MAX_AGE: 'soon' }, 'REAUTH_MAX_AGE'],
    [{ REAUTH_MAX_AGE: '0s' }, 'REAUTH_MAX_AGE'],
    [{ REAUTH_MAX_AGE: '25h' }, 'REAUTH_MAX_AGE'],
    [{ MFA_REQUIRED_ROLES: 'Admin' }, 'MFA_REQUIRED_ROLES'],
    [{ MFA_REQUIRED_ROLES: 'admin;ops' }, 'MFA_REQUIRED_ROLES'],
    [{ MFA_REQUIRED_ROLES: 'admin, super user' }, 'MFA_REQUIRED_ROLES'],
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

  test('HTTP limits: defaults, and the headers timeout never exceeds the request timeout', () => {
    expect(parseAppConfig({}).http).toEqual({
      requestTimeoutMs: 10_000,
      headersTimeoutMs: 5_000,
      keepAliveTimeoutMs: 10_000,
      maxPendingRequestsPerClient: 32,
    });
    expect(parseAppConfig({ REQUEST_TIMEOUT: '1s' }).http).toMatchObject({ requestTimeoutMs: 1000, headersTimeoutMs: 1000 });
    expect(
      parseAppConfig({ REQUEST_TIMEOUT: '30s', HEADERS_TIMEOUT: '20s', KEEP_ALIVE_TIMEOUT: '65s', MAX_PENDING_REQUESTS_PER_CLIENT: '8' })
        .http,
    ).toEqual({
      requestTimeoutMs: 30_000,
      headersTimeoutMs: 20_000,
      keepAliveTimeoutMs: 65_000,
      maxPendingRequestsPerClient: 8,
    });
  });

  test('REAUTH_MAX_AGE: 5 minutes by default, up to a day', () => {
    expect(parseAuthConfig({}).reauthMaxAgeSeconds).toBe(300);
    expect(parseAuthConfig({ REAUTH_MAX_AGE: '90s' }).reauthMaxAgeSeconds).toBe(90);
    expect(parseAuthConfig({ REAUTH_MAX_AGE: '24h' }).reauthMaxAgeSeconds).toBe(86400);
  });

  test('WebAuthn: the RP ID defaults to the host of PUBLIC_ORIGIN (none without it: per request), the name to Tessera', () => {
    expect(parseAppConfig({}).webauthn).toEqual({ rpId: undefined, rpName: 'Tessera' });
    expect(parseAppConfig({ PUBLIC_ORIGIN: 'https://auth.example.com' }).webauthn).toEqual({ rpId: 'auth.example.com', rpName: 'Tessera' });
    // A parent domain of the public origin's host is a valid RP ID (passkeys then work on its other subdomains too).
    expect(
      parseAppConfig({ PUBLIC_ORIGIN: 'https://auth.example.com', WEBAUTHN_RP_ID: 'example.com', WEBAUTHN_RP_NAME: 'Example' }).webauthn,
    ).toEqual({
      rpId: 'example.com',
      rpName: 'Example',
    });
    // An IP address is no RP ID: no default from such an origin.
    expect(parseAppConfig({ PUBLIC_ORIGIN: 'http://127.0.0.1:3000' }).webauthn.rpId).toBeUndefined();
  });

  test.each([
    [{ WEBAUTHN_RP_ID: 'https://example.com' }, 'must be a domain name'],
    [{ WEBAUTHN_RP_ID: 'example.com:443' }, 'must be a domain name'],
    [{ WEBAUTHN_RP_ID: 'Example.COM' }, 'must be a domain name'],
    [{ WEBAUTHN_RP_ID: '10.0.0.1' }, 'must be a domain name'],
    [{ WEBAUTHN_RP_ID: 'other.example', PUBLIC_ORIGIN: 'https://auth.example.com' }, 'must be the host of PUBLIC_ORIGIN'],
    [{ WEBAUTHN_RP_ID: 'xample.com', PUBLIC_ORIGIN: 'https://auth.example.com' }, 'must be the host of PUBLIC_ORIGIN'],
    [{ WEBAUTHN_RP_NAME: 'x'.repeat(65) }, 'at most 64'],
  ])('WebAuthn: %j is refused', (env, message) => {
    expect(() => parseAppConfig(env)).toThrow(ConfigError);
    expect(() => parseAppConfig(env)).toThrow(message);
  });

  test('MFA_REQUIRED_ROLES: none by default; a comma list of role names, trimmed, without duplicates', () => {
    expect(parseAuthConfig({}).mfaRequiredRoles).toEqual([]);
    expect(parseAuthConfig({ MFA_REQUIRED_ROLES: '' }).mfaRequiredRoles).toEqual([]);
    expect(parseAuthConfig({ MFA_REQUIRED_ROLES: 'admin' }).mfaRequiredRoles).toEqual(['admin']);
    expect(parseAuthConfig({ MFA_REQUIRED_ROLES: ' admin , ops-1,admin,' }).mfaRequiredRoles).toEqual(['admin', 'ops-1']);
  });

  test('password hashing admission: defaults and settings', () => {
    expect(parseAuthConfig({}).passwordHashing).toEqual({ concurrency: 2, queue: 8 });
    expect(parseAuthConfig({ PASSWORD_HASH_CONCURRENCY: '1', PASSWORD_HASH_QUEUE: '0' }).passwordHashing).toEqual({
      concurrency: 1,
      queue: 0,
    });
    expect(parseThrottleConfig({ THROTTLE_REGISTER_LIMIT: '3' }).registerLimit).toBe(3);
  });

  test('TRUST_PROXY accepts the proxy-addr forms', () => {
    expect(parseAppConfig({ TRUST_PROXY: '1' }).trustProxy).toBe(1);
    expect(parseAppConfig({ TRUST_PROXY: 'true' }).trustProxy).toBe(true);
    expect(parseAppConfig({ TRUST_PROXY: 'loopback, 10.0.0.0/8, ::1' }).trustProxy).toEqual(['loopback', '10.0.0.0/8', '::1']);
  });
});

describe('production refuses insecure settings', () => {
  /** What production requires; each case below breaks exactly one thing. */
  const SECURE = {
    NODE_ENV: 'production',
    SERVER_SECRETS: '0123456789abcdef'.repeat(2) + 'fedcba9876543210'.repeat(2) + '00112233445566778899aabbccddeeff',
    PUBLIC_ORIGIN: 'https://auth.example.com',
    SMTP_URL: 'smtps://tessera:secret@smtp.example.com:465',
    APP_URL: 'https://app.example.com',
  };

  test('a secure production configuration starts; docs and metrics are off unless asked for', () => {
    expect(() => validateEnvironment(SECURE)).not.toThrow();
    expect(parseAppConfig(SECURE)).toMatchObject({ docs: false, metrics: false, demoPage: false });
    expect(parseAppConfig({ ...SECURE, DOCS: 'true', METRICS_TOKEN: 'scrape-me' })).toMatchObject({ docs: true, metrics: true });
    expect(parseAppConfig({})).toMatchObject({ docs: true, metrics: true });
    // Loopback may stay on plain http (a proxy on the same host, local tests).
    expect(() => validateEnvironment({ ...SECURE, CORS_ORIGINS: 'http://localhost:5173' })).not.toThrow();
  });

  test.each([
    [{ COOKIE_SECURE: 'false' }, 'COOKIE_SECURE'],
    [{ TRUST_PROXY: 'true' }, 'TRUST_PROXY'],
    [{ PUBLIC_ORIGIN: 'http://auth.example.com' }, 'PUBLIC_ORIGIN'],
    [{ PUBLIC_ORIGIN: undefined }, 'PUBLIC_ORIGIN'],
    [{ SMTP_URL: undefined }, 'SMTP_URL'],
    [{ APP_URL: undefined }, 'APP_URL'],
    [{ APP_URL: 'http://app.example.com' }, 'APP_URL'],
    [{ CORS_ORIGINS: 'https://app.example.com,http://app.example.com' }, 'CORS_ORIGINS'],
    [{ SERVER_SECRETS: undefined }, 'SERVER_SECRETS'],
    [{ SERVER_SECRETS: 'tooshort' }, 'SERVER_SECRETS'],
    [{ ACCESS_TOKEN_TTL: '2h' }, 'ACCESS_TOKEN_TTL'],
    [{ ACCESS_TOKEN_TTL: '5s' }, 'ACCESS_TOKEN_TTL'],
    [{ REFRESH_TOKEN_TTL: '365d', SESSION_MAX_LIFETIME: '365d' }, 'REFRESH_TOKEN_TTL'],
    // Trusting everyone by halves gets round the "true" check.
    [{ TRUST_PROXY: '0.0.0.0/1,128.0.0.0/1' }, 'TRUST_PROXY'],
    [{ TRUST_PROXY: '10.0.0.0/7' }, 'TRUST_PROXY'],
    [{ TRUST_PROXY: '2001:db8::/31' }, 'TRUST_PROXY'],
    [{ TRUST_PROXY: '::ffff:0.0.0.0/96' }, 'TRUST_PROXY'],
    [{ SESSION_MAX_LIFETIME: '1000d' }, 'SESSION_MAX_LIFETIME'],
    [{ REFRESH_REUSE_GRACE_SECONDS: '120' }, 'REFRESH_REUSE_GRACE_SECONDS'],
    [{ SERVICE_CLIENTS: 'billing:short' }, 'SERVICE_CLIENTS'],
    [{ SERVICE_CLIENTS: 'example-downstream:development-only-downstream-secret' }, 'SERVICE_CLIENTS'],
  ])('%j stops a production start-up naming %s', (change, variable) => {
    const env: Record<string, string | undefined> = { ...SECURE, ...change };
    let error: unknown;
    try {
      validateEnvironment(env);
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(ConfigError);
    expect((error as ConfigError).variable).toBe(variable);
    expect((error as Error).message).not.toContain('\n');
    // The same value is fine outside production (development, tests).
    expect(() =>
      validateEnvironment({
        ...env,
        NODE_ENV: 'development',
        SERVER_SECRETS: env.SERVER_SECRETS === 'tooshort' ? undefined : env.SERVER_SECRETS,
        BOOTSTRAP_ADMIN_PASSWORD: undefined,
      }),
    ).not.toThrow();
  });
});

describe('settings refused in every environment, with one line naming the variable', () => {
  const PROD = {
    NODE_ENV: 'production',
    SERVER_SECRETS: '0123456789abcdef'.repeat(2) + 'fedcba9876543210'.repeat(2) + '00112233445566778899aabbccddeeff',
    PUBLIC_ORIGIN: 'https://auth.example.com',
    SMTP_URL: 'smtps://tessera:secret@smtp.example.com:465',
    APP_URL: 'https://app.example.com',
  };
  const refusal = (env: Record<string, string | undefined>) => {
    try {
      validateEnvironment(env);
    } catch (error) {
      return error instanceof ConfigError && !error.message.includes('\n') ? error.variable : `not one ConfigError line: ${String(error)}`;
    }
    return 'accepted';
  };

  test.each([
    [{ TRUST_PROXY: '0.0.0.0/0' }, 'TRUST_PROXY'],
    [{ TRUST_PROXY: 'loopback, ::/0' }, 'TRUST_PROXY'],
    [{ SMTP_URL: 'http://smtp.example.com' }, 'SMTP_URL'],
    [{ PASSWORD_MIN_LENGTH: '7' }, 'PASSWORD_MIN_LENGTH'],
    [{ NODE_ENV: 'Production' }, 'NODE_ENV'],
    [{ NODE_ENV: 'prod' }, 'NODE_ENV'],
    [{ NODE_ENV: 'staging' }, 'NODE_ENV'],
    [{ SERVER_SECRETS: '0'.repeat(64) }, 'SERVER_SECRETS'],
    [{ SERVER_SECRETS: 'a'.repeat(64) }, 'SERVER_SECRETS'],
    [{ SERVER_SECRETS: 'a'.repeat(43) }, 'SERVER_SECRETS'],
    [{ SERVER_SECRETS: `${randomBytes(32).toString('hex')},${'01'.repeat(40)}` }, 'SERVER_SECRETS'],
    [{ SERVICE_CLIENTS: 'no-secret' }, 'SERVICE_CLIENTS'],
    [{ SERVICE_CLIENTS: 'bad id:secret' }, 'SERVICE_CLIENTS'],
    [{ SERVICE_CLIENTS: `a:${'x'.repeat(40)},a:${'y'.repeat(40)}` }, 'SERVICE_CLIENTS'],
  ])('%j is refused naming %s, in development and in production', (change, variable) => {
    expect(refusal(change)).toBe(variable);
    expect(refusal({ ...PROD, ...change, NODE_ENV: (change as { NODE_ENV?: string }).NODE_ENV ?? 'production' })).toBe(variable);
  });

  test('the three environments, real secrets and narrow proxy ranges are accepted', () => {
    for (const NODE_ENV of ['development', 'production', 'test', undefined]) {
      expect(refusal({ ...PROD, NODE_ENV, SERVER_SECRETS: randomBytes(32).toString('base64url') })).toBe('accepted');
    }
    expect(refusal({ ...PROD, TRUST_PROXY: 'loopback, 10.0.0.0/8, 192.168.0.0/16, 2001:db8::/32, ::1, 203.0.113.7' })).toBe('accepted');
    // Outside production a wide range is the operator's business (but never an invalid one).
    expect(refusal({ TRUST_PROXY: '0.0.0.0/1,128.0.0.0/1' })).toBe('accepted');
  });
});

describe('SERVICE_CLIENTS', () => {
  test('id:secret pairs (a secret may hold colons); development falls back to the example service, production to none', () => {
    expect(parseAuthConfig({ SERVICE_CLIENTS: ` billing:${'s'.repeat(32)}:x , reports:r ` }).serviceClients).toEqual([
      { id: 'billing', secret: `${'s'.repeat(32)}:x` },
      { id: 'reports', secret: 'r' },
    ]);
    expect(parseAuthConfig({}).serviceClients).toEqual([DEVELOPMENT_SERVICE_CLIENT]);
    expect(parseAuthConfig({ NODE_ENV: 'production', SERVER_SECRETS: randomBytes(32).toString('hex') }).serviceClients).toEqual([]);
  });
});

describe('Redis topology', () => {
  test('a cluster: nodes, credentials and TLS', () => {
    expect(
      parseStorageConfig({
        REDIS_CLUSTER_NODES: 'redis://10.0.0.1:7000, redis://10.0.0.2:7000',
        REDIS_USERNAME: 'app',
        REDIS_PASSWORD: 'pw',
        REDIS_TLS: 'true',
        REDIS_WAIT_REPLICAS: '1',
      }),
    ).toMatchObject({
      redisUrl: undefined,
      redisCluster: { nodes: ['redis://10.0.0.1:7000', 'redis://10.0.0.2:7000'], tls: true, username: 'app', password: 'pw' },
      redisWaitReplicas: 1,
    });
    expect(parseStorageConfig({ REDIS_CLUSTER_NODES: 'rediss://a:1' }).redisCluster?.tls).toBe(true);
  });

  test('a sentinel group', () => {
    expect(
      parseStorageConfig({ REDIS_SENTINELS: 's1:26379,[::1]:26380', REDIS_SENTINEL_MASTER: 'mymaster', REDIS_SENTINEL_PASSWORD: 'sp' }),
    ).toMatchObject({
      redisSentinel: {
        sentinels: [
          { host: 's1', port: 26379 },
          { host: '::1', port: 26380 },
        ],
        master: 'mymaster',
        tls: false,
        sentinelPassword: 'sp',
      },
    });
  });

  test.each([
    [{ REDIS_URL: 'redis://a:1', REDIS_CLUSTER_NODES: 'redis://b:1' }, 'REDIS_CLUSTER_NODES'],
    [{ REDIS_URL: 'redis://a:1', REDIS_SENTINELS: 'b:1', REDIS_SENTINEL_MASTER: 'm' }, 'REDIS_SENTINELS'],
    [{ REDIS_CLUSTER_NODES: 'redis://a:1', REDIS_SENTINELS: 'b:1', REDIS_SENTINEL_MASTER: 'm' }, 'REDIS_SENTINELS'],
    [{ REDIS_CLUSTER_NODES: 'http://a:1' }, 'REDIS_CLUSTER_NODES'],
    [{ REDIS_CLUSTER_NODES: 'redis://a:1,rediss://b:1' }, 'REDIS_CLUSTER_NODES'],
    [{ REDIS_CLUSTER_NODES: ' , ' }, 'REDIS_CLUSTER_NODES'],
    [{ REDIS_SENTINELS: 'b:1' }, 'REDIS_SENTINEL_MASTER'],
    [{ REDIS_SENTINELS: 'b', REDIS_SENTINEL_MASTER: 'm' }, 'REDIS_SENTINELS'],
    [{ REDIS_SENTINELS: 'b:99999', REDIS_SENTINEL_MASTER: 'm' }, 'REDIS_SENTINELS'],
    [{ REDIS_SENTINEL_MASTER: 'm' }, 'REDIS_SENTINEL_MASTER'],
    [{ REDIS_WAIT_REPLICAS: '-1' }, 'REDIS_WAIT_REPLICAS'],
    [{ REDIS_TLS: 'maybe' }, 'REDIS_TLS'],
  ])('%j is refused, naming %s', (env, name) => {
    expect(() => parseStorageConfig(env)).toThrow(ConfigError);
    expect(() => parseStorageConfig(env)).toThrow(name);
  });

  describe('REDIS_TLS_CA_FILE', () => {
    // A self-signed CA certificate (valid until 2126), only ever parsed here.
    const CA_PEM = `${[
      '-----BEGIN CERTIFICATE-----',
      'MIIBmTCCAT+gAwIBAgIUNYVxY+FrtVKaCVw3z5V/GMA/b+gwCgYIKoZIzj0EAwIw',
      'ITEfMB0GA1UEAwwWVGVzc2VyYSBjb25maWcgdGVzdCBDQTAgFw0yNjExMjUxMzM3',
      'MThaGA8yMTI2MTEwMTEzMzcxOFowITEfMB0GA1UEAwwWVGVzc2VyYSBjb25maWcg',
      'dGVzdCBDQTBZMBMGByqGSM49AgEGCCqGSM49AwEHA0IABGgUZN388/s72RDpp7ef',
      'ZPaxDcR5bCrOZhUaxS6OneV/HG5VFPYkCHulMgkXfjtM+9dOTqufMOfA3eHsV1GZ',
      '9IujUzBRMB0GA1UdDgQWBBRRkusBx8Rs0IidSYLYm1/Kj2PJ3TAfBgNVHSMEGDAW',
      'gBRRkusBx8Rs0IidSYLYm1/Kj2PJ3TAPBgNVHRMBAf8EBTADAQH/MAoGCCqGSM49',
      'BAMCA0gAMEUCIC+0YKp2THGa6n1jze+fEpGjd9qgEKHU6CjKEPCJ/3Z6AiEArYaa',
      'GANzwPBGtAZt34UXPMMitpuu+43PDt35bJfw8mU=',
      '-----END CERTIFICATE-----',
    ].join('\n')}\n`;
    let dir: string;
    const file = (name: string, content: string) => {
      const path = join(dir, name);
      writeFileSync(path, content);
      return path;
    };
    beforeAll(() => {
      dir = mkdtempSync(join(tmpdir(), 'tessera-ca-'));
    });
    afterAll(() => rmSync(dir, { recursive: true, force: true }));

    test('is read at start-up and used for every topology over TLS', () => {
      const ca = file('ca.pem', CA_PEM);
      expect(parseStorageConfig({ REDIS_URL: 'rediss://a:1', REDIS_TLS_CA_FILE: ca }).redisTlsCa).toBe(CA_PEM);
      expect(parseStorageConfig({ REDIS_CLUSTER_NODES: 'redis://a:1', REDIS_TLS: 'true', REDIS_TLS_CA_FILE: ca }).redisTlsCa).toBe(CA_PEM);
      expect(
        parseStorageConfig({ REDIS_SENTINELS: 'a:1', REDIS_SENTINEL_MASTER: 'm', REDIS_TLS: 'true', REDIS_TLS_CA_FILE: ca }).redisTlsCa,
      ).toBe(CA_PEM);
      expect(parseStorageConfig({ REDIS_URL: 'rediss://a:1' }).redisTlsCa).toBeUndefined();
    });

    test.each([
      ['without TLS', () => ({ REDIS_URL: 'redis://a:1', REDIS_TLS_CA_FILE: file('ca.pem', CA_PEM) }), /not reached over TLS/],
      ['a missing file', () => ({ REDIS_URL: 'rediss://a:1', REDIS_TLS_CA_FILE: join(dir, 'missing.pem') }), /cannot be read \(ENOENT/],
      ['a file that is no certificate', () => ({ REDIS_URL: 'rediss://a:1', REDIS_TLS_CA_FILE: file('key.pem', 'not a pem') }), /PEM file/],
      [
        'a broken certificate',
        () => ({
          REDIS_URL: 'rediss://a:1',
          REDIS_TLS_CA_FILE: file('bad.pem', '-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n'),
        }),
        /PEM file/,
      ],
    ])('%s is refused, naming REDIS_TLS_CA_FILE', (_, env, reason) => {
      expect(() => parseStorageConfig(env())).toThrow(ConfigError);
      expect(() => parseStorageConfig(env())).toThrow('REDIS_TLS_CA_FILE');
      expect(() => parseStorageConfig(env())).toThrow(reason);
    });
  });
});
