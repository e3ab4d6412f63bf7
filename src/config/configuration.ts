import { X509Certificate } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { isIP } from 'node:net';
import { resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { registerAs } from '@nestjs/config';
import { normaliseEmail, UNSAFE_EMAIL_CHARACTER } from '../common/email.js';
import { ConfigError } from './config-error.js';
import {
  boolean,
  duration,
  hostname,
  integer,
  isLoopbackOrigin,
  optional,
  nodeEnvironment,
  origins,
  secrets,
  string,
  tooWideTrustedRange,
  trustProxy,
  url,
} from './env.js';

type Env = Record<string, string | undefined>;

/**
 * The namespaces as Nest injection tokens (`@Inject(appConfig.KEY)`, `ConfigType<typeof appConfig>`).
 * AppConfigModule provides the values the preflight parsed; these factories are not called then.
 */
export const appConfig = registerAs('app', () => parseAppConfig(process.env));
export const authConfig = registerAs('auth', () => parseAuthConfig(process.env));
export const storageConfig = registerAs('storage', () => parseStorageConfig(process.env));
export const throttleConfig = registerAs('throttle', () => parseThrottleConfig(process.env));
export const auditConfig = registerAs('audit', () => parseAuditConfig(process.env));
export const mailConfig = registerAs('mail', () => parseMailConfig(process.env));
export const accountsConfig = registerAs('accounts', () => parseAccountsConfig(process.env));

export function parseAppConfig(env: Env) {
  const nodeEnv = nodeEnvironment(env);
  const production = nodeEnv === 'production';
  const logLevel = string(env, 'LOG_LEVEL', 'info');
  if (!['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'].includes(logLevel)) {
    throw new ConfigError('LOG_LEVEL', `must be one of fatal, error, warn, info, debug, trace, silent (got "${logLevel}")`);
  }
  const trust = trustProxy(env, 'TRUST_PROXY');
  const corsOrigins = origins(env, 'CORS_ORIGINS');
  const publicOrigin = origins(env, 'PUBLIC_ORIGIN')[0];
  const metricsToken = optional(env, 'METRICS_TOKEN');
  if (production) {
    // Trusting every hop lets any client write its own X-Forwarded-For: rate limits and logs would believe it.
    if (trust === true)
      throw new ConfigError('TRUST_PROXY', 'must not be true in production (name the proxies: a hop count, addresses or CIDRs)');
    const wide = Array.isArray(trust) ? tooWideTrustedRange(trust) : undefined;
    if (wide)
      throw new ConfigError(
        'TRUST_PROXY',
        `must not trust ranges wider than /8 (IPv4) or /32 (IPv6) in production (got ${wide}): name the proxies`,
      );
    // Links in mails, WebAuthn and the Origin check must never trust the Host header in production.
    if (!publicOrigin)
      throw new ConfigError(
        'PUBLIC_ORIGIN',
        "must be set in production (this server's origin as browsers see it, e.g. https://auth.example.com)",
      );
    for (const [name, list] of [
      ['PUBLIC_ORIGIN', [publicOrigin]],
      ['CORS_ORIGINS', corsOrigins],
    ] as const) {
      const plain = list.find((origin) => origin.startsWith('http://') && !isLoopbackOrigin(origin));
      if (plain) throw new ConfigError(name, `must use https:// in production (got ${plain})`);
    }
  }
  return {
    nodeEnv,
    production,
    port: integer(env, 'PORT', 3000, 0, 65535),
    host: hostname(env, 'HOST', '0.0.0.0'),
    logLevel,
    trustProxy: trust,
    corsOrigins,
    /** This server's own origin as browsers see it (e.g. behind a TLS proxy); derived from each request when unset (development only). */
    publicOrigin,
    /** When set, GET /metrics requires `Authorization: Bearer <METRICS_TOKEN>`. */
    metricsToken,
    /** Production serves /metrics only behind METRICS_TOKEN. */
    metrics: !production || metricsToken !== undefined,
    /** Swagger UI and /docs-json: on in development, off in production unless DOCS=true. */
    docs: boolean(env, 'DOCS', !production),
    demoPage: boolean(env, 'DEMO_PAGE', !production),
    http: parseHttpLimits(env),
    webauthn: parseWebauthnConfig(env, publicOrigin),
  };
}

/** A WebAuthn RP ID is a domain (no scheme, port or path; never an IP address); `localhost` is one. */
const RP_ID = /^(?=.{1,253}$)[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?(\.[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?)*$/;

/** Whether `host` is `rpId` or one of its subdomains: the origins a credential of `rpId` may be used on. */
export const hostMatchesRpId = (host: string, rpId: string): boolean => host === rpId || host.endsWith(`.${rpId}`);

/**
 * Passkeys (WebAuthn): the relying party and the origins whose ceremonies are accepted. Without
 * PUBLIC_ORIGIN (development only) the RP ID is the request's host and the accepted origin the
 * request's own, decided per request by PasskeysService.
 */
function parseWebauthnConfig(env: Env, publicOrigin: string | undefined) {
  const publicHost = publicOrigin ? new URL(publicOrigin).hostname : undefined;
  const configured = optional(env, 'WEBAUTHN_RP_ID');
  if (configured !== undefined && (!RP_ID.test(configured) || isIP(configured) !== 0)) {
    throw new ConfigError('WEBAUTHN_RP_ID', `must be a domain name in lower case, like example.com (got "${configured}")`);
  }
  if (configured !== undefined && publicHost !== undefined && !hostMatchesRpId(publicHost, configured)) {
    throw new ConfigError(
      'WEBAUTHN_RP_ID',
      `must be the host of PUBLIC_ORIGIN (${publicHost}) or a parent domain of it (got "${configured}")`,
    );
  }
  // An IP address cannot be an RP ID: browsers refuse WebAuthn on such an origin, so no default then.
  const rpId = configured ?? (publicHost !== undefined && isIP(publicHost.replace(/^\[|\]$/g, '')) === 0 ? publicHost : undefined);
  const rpName = string(env, 'WEBAUTHN_RP_NAME', 'Tessera');
  if (rpName.length > 64) throw new ConfigError('WEBAUTHN_RP_NAME', `must be at most 64 characters (got ${rpName.length})`);
  return {
    /** Undefined: the request's host (development without PUBLIC_ORIGIN). */
    rpId,
    rpName,
  };
}

/**
 * Bounds on how long a client may hold a connection without finishing a request. Node enforces
 * the two request timeouts only on a periodic sweep (see app.setup.ts), so they are approximate
 * to within a second.
 */
function parseHttpLimits(env: Env) {
  const requestTimeoutSeconds = duration(env, 'REQUEST_TIMEOUT', '10s');
  return {
    /** Receiving a whole request (headers and body); past it: 408 and the connection closes. */
    requestTimeoutMs: requestTimeoutSeconds * 1000,
    /** Receiving the headers; Node wants it no longer than the request timeout, so it is capped there. */
    headersTimeoutMs: Math.min(duration(env, 'HEADERS_TIMEOUT', '5s'), requestTimeoutSeconds) * 1000,
    /** An idle keep-alive connection is closed after this long. */
    keepAliveTimeoutMs: duration(env, 'KEEP_ALIVE_TIMEOUT', '10s') * 1000,
    /** Requests of one client (request.ip) whose body is still arriving; loopback is exempt. */
    maxPendingRequestsPerClient: integer(env, 'MAX_PENDING_REQUESTS_PER_CLIENT', 32, 1, 100_000),
  };
}

/** The sane bounds production insists on (seconds). */
export const PRODUCTION_LIMITS = {
  accessTokenTtl: 3600,
  refreshTokenTtl: 90 * 86400,
  sessionMaxLifetime: 365 * 86400,
  refreshReuseGraceSeconds: 60,
};

/** The longest REAUTH_MAX_AGE (seconds): "recent" beyond a day would mean nothing. */
export const REAUTH_MAX_AGE_LIMIT = 86400;

export function parseAuthConfig(env: Env) {
  const accessTokenTtl = duration(env, 'ACCESS_TOKEN_TTL', '15m');
  const refreshTokenTtl = duration(env, 'REFRESH_TOKEN_TTL', '7d');
  const sessionMaxLifetime = duration(env, 'SESSION_MAX_LIFETIME', '30d');
  if (sessionMaxLifetime < refreshTokenTtl) {
    throw new ConfigError('SESSION_MAX_LIFETIME', 'must be at least REFRESH_TOKEN_TTL');
  }
  const bootstrapAdminEmailRaw = optional(env, 'BOOTSTRAP_ADMIN_EMAIL');
  // The same normalisation and the same refused characters as every email field of the API.
  const bootstrapAdminEmail = bootstrapAdminEmailRaw === undefined ? undefined : normaliseEmail(bootstrapAdminEmailRaw);
  // Judged at start-up by the password policy (auth/bootstrap-admin.ts), with the admin's email.
  const bootstrapAdminPassword = optional(env, 'BOOTSTRAP_ADMIN_PASSWORD');
  if (
    bootstrapAdminEmail !== undefined &&
    (!/^[^@]+@[^@]+$/.test(bootstrapAdminEmail) || UNSAFE_EMAIL_CHARACTER.test(bootstrapAdminEmail))
  ) {
    throw new ConfigError('BOOTSTRAP_ADMIN_EMAIL', 'must be an email address');
  }
  const cookieSecure = boolean(env, 'COOKIE_SECURE', true);
  const refreshReuseGraceSeconds = integer(env, 'REFRESH_REUSE_GRACE_SECONDS', 10, 0, 300);
  // How recent a proof of identity @RecentAuth() routes want by default (RFC 9470 max_age).
  const reauthMaxAgeSeconds = duration(env, 'REAUTH_MAX_AGE', '5m');
  if (reauthMaxAgeSeconds > REAUTH_MAX_AGE_LIMIT) {
    throw new ConfigError('REAUTH_MAX_AGE', `must be at most ${REAUTH_MAX_AGE_LIMIT / 3600} hours (got ${reauthMaxAgeSeconds} seconds)`);
  }
  const mfaRequiredRoles = roleList(env, 'MFA_REQUIRED_ROLES');
  const serviceClients = parseServiceClients(env, nodeEnvironment(env) === 'production');
  const serverSecrets = secrets(env, 'SERVER_SECRETS');
  if (nodeEnvironment(env) === 'production') {
    if (!cookieSecure)
      throw new ConfigError('COOKIE_SECURE', 'must not be false in production (the refresh cookie would travel over plain http)');
    if (!serverSecrets) throw new ConfigError('SERVER_SECRETS', 'must be set in production (generated development secrets are refused)');
    const bounds: [string, number, number][] = [
      ['ACCESS_TOKEN_TTL', accessTokenTtl, PRODUCTION_LIMITS.accessTokenTtl],
      ['REFRESH_TOKEN_TTL', refreshTokenTtl, PRODUCTION_LIMITS.refreshTokenTtl],
      ['SESSION_MAX_LIFETIME', sessionMaxLifetime, PRODUCTION_LIMITS.sessionMaxLifetime],
      ['REFRESH_REUSE_GRACE_SECONDS', refreshReuseGraceSeconds, PRODUCTION_LIMITS.refreshReuseGraceSeconds],
    ];
    for (const [name, seconds, max] of bounds) {
      if (seconds > max) throw new ConfigError(name, `must be at most ${max} seconds in production (got ${seconds})`);
    }
    if (accessTokenTtl < 60) throw new ConfigError('ACCESS_TOKEN_TTL', `must be at least 60 seconds in production (got ${accessTokenTtl})`);
  }
  return {
    issuer: string(env, 'JWT_ISSUER', 'tessera'),
    audience: string(env, 'JWT_AUDIENCE', 'tessera-api'),
    privateKeyFile: optional(env, 'JWT_PRIVATE_KEY_FILE'),
    /** Extra public keys (PEM files, comma-separated) still published and accepted during a key rotation. */
    previousPublicKeyFiles: (optional(env, 'JWT_PREVIOUS_PUBLIC_KEY_FILES') ?? '')
      .split(',')
      .map((f) => f.trim())
      .filter(Boolean),
    accessTokenTtl,
    refreshTokenTtl,
    sessionMaxLifetime,
    refreshReuseGraceSeconds,
    /** @RecentAuth() routes without a max age of their own want a proof of identity at most this old (seconds). */
    reauthMaxAgeSeconds,
    /** Users holding one of these roles must have a second factor before anything but enrolment works (MfaPolicyGuard). */
    mfaRequiredRoles,
    /** Other services allowed to follow the revocation feed and to introspect (HTTP Basic), by id. */
    serviceClients,
    /** SERVER_SECRETS, newest first; undefined in development means "generate one into DATA_DIR". */
    serverSecrets,
    maxSessionsPerUser: integer(env, 'MAX_SESSIONS_PER_USER', 10, 1, 1000),
    clockToleranceSeconds: 5,
    cookieSecure,
    cookieName: cookieSecure ? '__Secure-refresh_token' : 'refresh_token',
    /** The device token (exempts its holder from the per-account login lockout). */
    deviceCookieName: cookieSecure ? '__Secure-device' : 'device',
    /** The cookie is only ever sent to the auth routes. */
    cookiePath: '/auth',
    /** argon2 hashes (registration, password changes) admitted at once, and how many may wait. */
    passwordHashing: {
      concurrency: integer(env, 'PASSWORD_HASH_CONCURRENCY', 2, 1, 64),
      queue: integer(env, 'PASSWORD_HASH_QUEUE', 8, 0, 10_000),
    },
    bootstrapAdmin:
      bootstrapAdminEmail && bootstrapAdminPassword ? { email: bootstrapAdminEmail, password: bootstrapAdminPassword } : undefined,
  };
}

/** The service credential development falls back to (the example downstream service's default); refused in production. */
export const DEVELOPMENT_SERVICE_CLIENT = { id: 'example-downstream', secret: 'development-only-downstream-secret' };
const SERVICE_CLIENT_ID = /^[A-Za-z0-9._~-]{1,64}$/;

/**
 * SERVICE_CLIENTS: `id:secret` pairs, comma-separated (the secret may contain ':', not ','). In
 * development, unset means the example downstream service's credential; production wants them set,
 * with secrets of at least 32 characters and never the development one.
 */
function parseServiceClients(env: Env, production: boolean): { id: string; secret: string }[] {
  const raw = optional(env, 'SERVICE_CLIENTS');
  if (raw === undefined) return production ? [] : [DEVELOPMENT_SERVICE_CLIENT];
  const clients = raw
    .split(',')
    .map((pair) => pair.trim())
    .filter(Boolean)
    .map((pair) => {
      const colon = pair.indexOf(':');
      const id = colon > 0 ? pair.slice(0, colon) : '';
      const secret = colon > 0 ? pair.slice(colon + 1) : '';
      if (!SERVICE_CLIENT_ID.test(id) || secret.length === 0) {
        throw new ConfigError('SERVICE_CLIENTS', 'must be id:secret pairs separated by commas (ids: letters, digits, . _ ~ -)');
      }
      if (production && (secret.length < 32 || secret === DEVELOPMENT_SERVICE_CLIENT.secret)) {
        throw new ConfigError(
          'SERVICE_CLIENTS',
          `the secret of "${id}" must be at least 32 characters (and not the development one) in production`,
        );
      }
      return { id, secret };
    });
  if (new Set(clients.map((c) => c.id)).size !== clients.length) throw new ConfigError('SERVICE_CLIENTS', 'names a client id twice');
  return clients;
}

/** Role names as PATCH /admin/users/:id accepts them, comma-separated; empty by default. */
const ROLE_NAME = /^[a-z][a-z0-9_-]{0,31}$/;
function roleList(env: Env, name: string): string[] {
  const raw = optional(env, name) ?? '';
  const roles = [...new Set(raw.split(',').map((r) => r.trim()))].filter(Boolean);
  const bad = roles.find((role) => !ROLE_NAME.test(role));
  if (bad !== undefined) {
    throw new ConfigError(name, `must be a comma-separated list of role names (lower-case letters, digits, - or _; got "${bad}")`);
  }
  return roles;
}

export function parseStorageConfig(env: Env) {
  return {
    databaseUrl: url(env, 'DATABASE_URL', ['postgres', 'postgresql']),
    dataDir: resolve(string(env, 'DATA_DIR', './data')),
    ...redisTopology(env),
    /** Upper bound on any single Redis command, so a frozen Redis fails requests closed, quickly. */
    redisCommandTimeoutMs: integer(env, 'REDIS_COMMAND_TIMEOUT_MS', 1000, 50, 60_000),
    /** Session writes (login, rotation) are answered only once this many replicas acknowledged them (WAIT). */
    redisWaitReplicas: integer(env, 'REDIS_WAIT_REPLICAS', 0, 0, 100),
  };
}

/** `host:port`, IPv6 hosts in brackets. */
function hostPort(name: string, raw: string): { host: string; port: number } {
  const match = /^(\[[0-9a-fA-F:.]+\]|[A-Za-z0-9.-]+):(\d{1,5})$/.exec(raw);
  const port = match ? Number(match[2]) : 0;
  if (!match || port < 1 || port > 65535) throw new ConfigError(name, `must be comma-separated host:port entries (got "${raw}")`);
  return { host: match[1].replace(/^\[|\]$/g, ''), port };
}

function list(env: Env, name: string): string[] | undefined {
  const raw = optional(env, name);
  if (raw === undefined) return undefined;
  const entries = raw
    .split(',')
    .map((entry) => entry.trim())
    .filter(Boolean);
  if (entries.length === 0) throw new ConfigError(name, 'must list at least one node');
  return entries;
}

/**
 * Which Redis Tessera talks to: one node (REDIS_URL), a Cluster (REDIS_CLUSTER_NODES) or a primary
 * found through Sentinel (REDIS_SENTINELS + REDIS_SENTINEL_MASTER); at most one of them; none means
 * the in-process stores.
 */
function redisTopology(env: Env) {
  const redisUrl = url(env, 'REDIS_URL', ['redis', 'rediss']);
  const clusterNodes = list(env, 'REDIS_CLUSTER_NODES');
  const sentinels = list(env, 'REDIS_SENTINELS');
  const set = [redisUrl && 'REDIS_URL', clusterNodes && 'REDIS_CLUSTER_NODES', sentinels && 'REDIS_SENTINELS'].filter(
    (name): name is string => Boolean(name),
  );
  if (set.length > 1) throw new ConfigError(set[1], `must not be set together with ${set[0]} (choose one Redis topology)`);
  const tls = boolean(env, 'REDIS_TLS', false);
  const username = optional(env, 'REDIS_USERNAME');
  const password = optional(env, 'REDIS_PASSWORD');
  const sentinelPassword = optional(env, 'REDIS_SENTINEL_PASSWORD');
  const sentinelMaster = optional(env, 'REDIS_SENTINEL_MASTER');
  let redisCluster: { nodes: string[]; tls: boolean; username?: string; password?: string } | undefined;
  let redisSentinel:
    | {
        sentinels: { host: string; port: number }[];
        master: string;
        tls: boolean;
        username?: string;
        password?: string;
        sentinelPassword?: string;
      }
    | undefined;
  if (clusterNodes) {
    for (const node of clusterNodes) url({ REDIS_CLUSTER_NODES: node }, 'REDIS_CLUSTER_NODES', ['redis', 'rediss']);
    const schemes = new Set(clusterNodes.map((node) => node.startsWith('rediss:')));
    if (schemes.size > 1)
      throw new ConfigError('REDIS_CLUSTER_NODES', 'must use one scheme for every node (all redis:// or all rediss://)');
    redisCluster = { nodes: clusterNodes, tls: tls || schemes.has(true), username, password };
  }
  if (sentinels) {
    if (!sentinelMaster) throw new ConfigError('REDIS_SENTINEL_MASTER', 'must be set with REDIS_SENTINELS (the monitored master name)');
    redisSentinel = {
      sentinels: sentinels.map((entry) => hostPort('REDIS_SENTINELS', entry)),
      master: sentinelMaster,
      tls,
      username,
      password,
      sentinelPassword,
    };
  } else if (sentinelMaster) {
    throw new ConfigError('REDIS_SENTINEL_MASTER', 'is set but REDIS_SENTINELS is not');
  }
  const overTls = Boolean(redisUrl?.startsWith('rediss:') || redisCluster?.tls || redisSentinel?.tls);
  return { redisUrl, redisCluster, redisSentinel, redisTlsCa: tlsCa(env, 'REDIS_TLS_CA_FILE', overTls) };
}

/**
 * The PEM of a private CA Redis's certificates are checked against (instead of Node's public
 * roots), read at start-up. Set without TLS it is a mistake (the operator expects TLS), so refused.
 */
function tlsCa(env: Env, name: string, overTls: boolean): string | undefined {
  const file = optional(env, name);
  if (file === undefined) return undefined;
  if (!overTls) throw new ConfigError(name, 'is set but Redis is not reached over TLS (set REDIS_TLS=true or use rediss:// URLs)');
  let pem: string;
  try {
    pem = readFileSync(file, 'utf8');
  } catch (error) {
    throw new ConfigError(name, `cannot be read (${(error as NodeJS.ErrnoException).code ?? 'error'}: ${file})`);
  }
  try {
    if (!pem.includes('-----BEGIN CERTIFICATE-----')) throw new Error('no certificate');
    new X509Certificate(pem);
  } catch {
    throw new ConfigError(name, `must be a PEM file of one or more CA certificates (${file})`);
  }
  return pem;
}

export function parseThrottleConfig(env: Env) {
  return {
    ttlSeconds: duration(env, 'THROTTLE_TTL', '60s'),
    loginLimit: integer(env, 'THROTTLE_LOGIN_LIMIT', 5, 1, 1_000_000),
    refreshLimit: integer(env, 'THROTTLE_REFRESH_LIMIT', 60, 1, 1_000_000),
    limit: integer(env, 'THROTTLE_LIMIT', 100, 1, 1_000_000),
    registerLimit: integer(env, 'THROTTLE_REGISTER_LIMIT', 10, 1, 1_000_000),
    /** Requests per IP per THROTTLE_TTL to the routes that send mail (verification, forgot password, email change). */
    mailLimit: integer(env, 'THROTTLE_MAIL_LIMIT', 5, 1, 1_000_000),
  };
}

export function parseAuditConfig(env: Env) {
  return {
    /** Security events older than this are pruned (ASVS V16: kept long enough to investigate, not forever). */
    retentionSeconds: duration(env, 'AUDIT_RETENTION', '90d'),
  };
}

/** Outgoing mail: how it leaves (SMTP or the development outbox) and how hard it is retried. */
export function parseMailConfig(env: Env) {
  const smtpUrl = url(env, 'SMTP_URL', ['smtp', 'smtps']);
  if (nodeEnvironment(env) === 'production' && !smtpUrl) {
    throw new ConfigError(
      'SMTP_URL',
      'must be set in production (smtp://user:pass@host:587 or smtps://…); development writes mail to DATA_DIR/outbox/',
    );
  }
  return {
    /** Unset: each mail is written as an .eml file under DATA_DIR/outbox/ (development only). */
    smtpUrl,
    from: string(env, 'MAIL_FROM', 'Tessera <no-reply@localhost>'),
    /** The product name mails carry (subjects, greetings). */
    productName: string(env, 'MAIL_PRODUCT_NAME', 'Tessera'),
    /** Where the templates are: a team copies the shipped folder and points this at its copy. */
    templatesDir: resolve(string(env, 'MAIL_TEMPLATES_DIR', fileURLToPath(new URL('../../mail-templates', import.meta.url)))),
    /** First retry after this long, doubling per attempt up to an hour. */
    retryBaseSeconds: duration(env, 'MAIL_RETRY_BASE', '30s'),
    /** Attempts before a mail is given up (logged, its message wiped). */
    maxAttempts: integer(env, 'MAIL_MAX_ATTEMPTS', 10, 1, 100),
    /** How often each instance looks for mail that is due (new mail is also sent at once). */
    pollSeconds: duration(env, 'MAIL_POLL_INTERVAL', '5s'),
  };
}

/** The account lifecycle: links in mails, their lifetimes, and what the password policy asks. */
export function parseAccountsConfig(env: Env) {
  const production = nodeEnvironment(env) === 'production';
  const appUrl = url(env, 'APP_URL', ['http', 'https']);
  if (production) {
    if (!appUrl) throw new ConfigError('APP_URL', 'must be set in production (where links in mails point, e.g. https://app.example.com)');
    if (appUrl.startsWith('http://') && !isLoopbackOrigin(appUrl))
      throw new ConfigError('APP_URL', `must use https:// in production (got ${appUrl})`);
  }
  return {
    /** Links in mails: `{appUrl}/verify-email?token=…`; unset (development): this server's origin + /demo. */
    appUrl: appUrl?.replace(/\/+$/, ''),
    emailVerificationTtlSeconds: duration(env, 'EMAIL_VERIFICATION_TTL', '24h'),
    passwordResetTtlSeconds: duration(env, 'PASSWORD_RESET_TTL', '30m'),
    /** Logins of unverified accounts answer 403 `email_unverified`. */
    requireVerifiedEmail: boolean(env, 'REQUIRE_VERIFIED_EMAIL', false),
    /** NIST SP 800-63B-4: 15 for a password used alone; 8 is the floor it allows. */
    passwordMinLength: integer(env, 'PASSWORD_MIN_LENGTH', 15, 8, 256),
    /** Verification and reset mails per account (a hash of the address) per MAIL_ACCOUNT_WINDOW; more are silently not sent. */
    mailsPerAccount: integer(env, 'MAIL_ACCOUNT_LIMIT', 3, 1, 1_000_000),
    mailAccountWindowSeconds: duration(env, 'MAIL_ACCOUNT_WINDOW', '1h'),
  };
}

export type AppConfig = ReturnType<typeof parseAppConfig>;
export type AuthConfig = ReturnType<typeof parseAuthConfig>;
export type StorageConfig = ReturnType<typeof parseStorageConfig>;
export type ThrottleConfig = ReturnType<typeof parseThrottleConfig>;
export type AuditConfig = ReturnType<typeof parseAuditConfig>;
export type MailConfig = ReturnType<typeof parseMailConfig>;
export type AccountsConfig = ReturnType<typeof parseAccountsConfig>;

/** Every namespace, parsed once before Nest starts (preflight.ts), so a bad value is one clear line. */
export function parseConfig(env: Env) {
  return {
    app: parseAppConfig(env),
    auth: parseAuthConfig(env),
    storage: parseStorageConfig(env),
    throttle: parseThrottleConfig(env),
    audit: parseAuditConfig(env),
    mail: parseMailConfig(env),
    accounts: parseAccountsConfig(env),
  };
}

export type Config = ReturnType<typeof parseConfig>;

/** Every namespace, checked in one go. */
export function validateEnvironment(env: Env): void {
  parseConfig(env);
}
