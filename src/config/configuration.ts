import { resolve } from 'node:path';
import { registerAs } from '@nestjs/config';
import { ConfigError } from './config-error.js';
import { boolean, duration, hostname, integer, optional, origins, string, trustProxy, url } from './env.js';

type Env = Record<string, string | undefined>;

export const appConfig = registerAs('app', () => parseAppConfig(process.env));
export const authConfig = registerAs('auth', () => parseAuthConfig(process.env));
export const storageConfig = registerAs('storage', () => parseStorageConfig(process.env));
export const throttleConfig = registerAs('throttle', () => parseThrottleConfig(process.env));
export const auditConfig = registerAs('audit', () => parseAuditConfig(process.env));

export function parseAppConfig(env: Env) {
  const nodeEnv = string(env, 'NODE_ENV', 'development');
  const production = nodeEnv === 'production';
  const logLevel = string(env, 'LOG_LEVEL', 'info');
  if (!['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'].includes(logLevel)) {
    throw new ConfigError('LOG_LEVEL', `must be one of fatal, error, warn, info, debug, trace, silent (got "${logLevel}")`);
  }
  return {
    nodeEnv,
    production,
    port: integer(env, 'PORT', 3000, 0, 65535),
    host: hostname(env, 'HOST', '0.0.0.0'),
    logLevel,
    trustProxy: trustProxy(env, 'TRUST_PROXY'),
    corsOrigins: origins(env, 'CORS_ORIGINS'),
    /** This server's own origin as browsers see it (e.g. behind a TLS proxy); derived from each request when unset. */
    publicOrigin: origins(env, 'PUBLIC_ORIGIN')[0],
    /** When set, GET /metrics requires `Authorization: Bearer <METRICS_TOKEN>`. */
    metricsToken: optional(env, 'METRICS_TOKEN'),
    demoPage: boolean(env, 'DEMO_PAGE', !production),
  };
}

export function parseAuthConfig(env: Env) {
  const accessTokenTtl = duration(env, 'ACCESS_TOKEN_TTL', '15m');
  const refreshTokenTtl = duration(env, 'REFRESH_TOKEN_TTL', '7d');
  const sessionMaxLifetime = duration(env, 'SESSION_MAX_LIFETIME', '30d');
  if (sessionMaxLifetime < refreshTokenTtl) {
    throw new ConfigError('SESSION_MAX_LIFETIME', 'must be at least REFRESH_TOKEN_TTL');
  }
  const bootstrapAdminEmail = optional(env, 'BOOTSTRAP_ADMIN_EMAIL');
  const bootstrapAdminPassword = optional(env, 'BOOTSTRAP_ADMIN_PASSWORD');
  if (bootstrapAdminPassword !== undefined && (bootstrapAdminPassword.length < 10 || bootstrapAdminPassword.length > 128)) {
    throw new ConfigError('BOOTSTRAP_ADMIN_PASSWORD', 'must be 10 to 128 characters');
  }
  if (bootstrapAdminEmail !== undefined && !/^[^\s@]+@[^\s@]+$/.test(bootstrapAdminEmail)) {
    throw new ConfigError('BOOTSTRAP_ADMIN_EMAIL', 'must be an email address');
  }
  const cookieSecure = boolean(env, 'COOKIE_SECURE', true);
  return {
    issuer: string(env, 'JWT_ISSUER', 'tessera'),
    audience: string(env, 'JWT_AUDIENCE', 'tessera-api'),
    privateKeyFile: optional(env, 'JWT_PRIVATE_KEY_FILE'),
    /** Extra public keys (PEM files, comma-separated) still published and accepted during a key rotation. */
    previousPublicKeyFiles: (optional(env, 'JWT_PREVIOUS_PUBLIC_KEY_FILES') ?? '').split(',').map((f) => f.trim()).filter(Boolean),
    accessTokenTtl,
    refreshTokenTtl,
    sessionMaxLifetime,
    refreshReuseGraceSeconds: integer(env, 'REFRESH_REUSE_GRACE_SECONDS', 10, 0, 300),
    maxSessionsPerUser: integer(env, 'MAX_SESSIONS_PER_USER', 10, 1, 1000),
    clockToleranceSeconds: 5,
    cookieSecure,
    cookieName: cookieSecure ? '__Secure-refresh_token' : 'refresh_token',
    /** The cookie is only ever sent to the auth routes. */
    cookiePath: '/auth',
    bootstrapAdmin:
      bootstrapAdminEmail && bootstrapAdminPassword ? { email: bootstrapAdminEmail, password: bootstrapAdminPassword } : undefined,
  };
}

export function parseStorageConfig(env: Env) {
  return {
    databaseUrl: url(env, 'DATABASE_URL', ['postgres', 'postgresql']),
    dataDir: resolve(string(env, 'DATA_DIR', './data')),
    redisUrl: url(env, 'REDIS_URL', ['redis', 'rediss']),
    /** Upper bound on any single Redis command, so a frozen Redis fails requests closed, quickly. */
    redisCommandTimeoutMs: integer(env, 'REDIS_COMMAND_TIMEOUT_MS', 1000, 50, 60_000),
  };
}

export function parseThrottleConfig(env: Env) {
  return {
    ttlSeconds: duration(env, 'THROTTLE_TTL', '60s'),
    loginLimit: integer(env, 'THROTTLE_LOGIN_LIMIT', 5, 1, 1_000_000),
    refreshLimit: integer(env, 'THROTTLE_REFRESH_LIMIT', 60, 1, 1_000_000),
    limit: integer(env, 'THROTTLE_LIMIT', 100, 1, 1_000_000),
  };
}

export function parseAuditConfig(env: Env) {
  return {
    /** Security events older than this are pruned (ASVS V16: kept long enough to investigate, not forever). */
    retentionSeconds: duration(env, 'AUDIT_RETENTION', '90d'),
  };
}

export type AppConfig = ReturnType<typeof parseAppConfig>;
export type AuthConfig = ReturnType<typeof parseAuthConfig>;
export type StorageConfig = ReturnType<typeof parseStorageConfig>;
export type ThrottleConfig = ReturnType<typeof parseThrottleConfig>;
export type AuditConfig = ReturnType<typeof parseAuditConfig>;

/** Every namespace, checked in one go (used before Nest starts so a bad value is one clear line). */
export function validateEnvironment(env: Env): void {
  parseAppConfig(env);
  parseAuthConfig(env);
  parseStorageConfig(env);
  parseThrottleConfig(env);
  parseAuditConfig(env);
}
