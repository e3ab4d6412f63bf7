import { isIP } from 'node:net';
import proxyAddr from 'proxy-addr';
import { ConfigError } from './config-error.js';
import { decodeSecret } from './secret.js';
import { parseDurationSeconds } from './duration.js';

type Env = Record<string, string | undefined>;

/** Reads one variable, treating the empty string as unset. */
function read(env: Env, name: string): string | undefined {
  const value = env[name]?.trim();
  return value === undefined || value === '' ? undefined : value;
}

export function duration(env: Env, name: string, fallback: string): number {
  const seconds = parseDurationSeconds(read(env, name) ?? fallback);
  if (seconds === undefined) {
    throw new ConfigError(name, `must be a positive duration like 90s, 15m, 12h or 7d (got "${env[name]}")`);
  }
  return seconds;
}

export function integer(env: Env, name: string, fallback: number, min: number, max: number): number {
  const raw = read(env, name);
  if (raw === undefined) return fallback;
  const value = Number(raw);
  if (!/^-?\d+$/.test(raw) || value < min || value > max) {
    throw new ConfigError(name, `must be a whole number from ${min} to ${max} (got "${raw}")`);
  }
  return value;
}

export function boolean(env: Env, name: string, fallback: boolean): boolean {
  const raw = read(env, name)?.toLowerCase();
  if (raw === undefined) return fallback;
  if (raw === 'true' || raw === '1') return true;
  if (raw === 'false' || raw === '0') return false;
  throw new ConfigError(name, `must be true or false (got "${raw}")`);
}

export function string(env: Env, name: string, fallback: string): string {
  return read(env, name) ?? fallback;
}

export function optional(env: Env, name: string): string | undefined {
  return read(env, name);
}

export function url(env: Env, name: string, protocols: string[]): string | undefined {
  const raw = read(env, name);
  if (raw === undefined) return undefined;
  let parsed: URL;
  try {
    parsed = new URL(raw);
  } catch {
    throw new ConfigError(name, `must be a URL (${protocols.join(' or ')})`);
  }
  if (!protocols.includes(parsed.protocol.replace(/:$/, ''))) {
    throw new ConfigError(name, `must use ${protocols.map((p) => `${p}://`).join(' or ')} (got ${parsed.protocol}//)`);
  }
  return raw;
}

export function origins(env: Env, name: string): string[] {
  const raw = read(env, name);
  if (raw === undefined) return [];
  return raw.split(',').map((entry) => {
    const value = entry.trim();
    let parsed: URL;
    try {
      parsed = new URL(value);
    } catch {
      throw new ConfigError(name, `must be a comma-separated list of origins like https://app.example.com (got "${value}")`);
    }
    if (parsed.origin !== value.replace(/\/$/, '')) {
      throw new ConfigError(name, `entries must be bare origins without path (got "${value}")`);
    }
    return parsed.origin;
  });
}

/**
 * TRUST_PROXY in the forms Fastify's `trustProxy` (proxy-addr) accepts: a hop count, `true`/`false`,
 * or a comma-separated list of addresses, CIDRs and the names loopback, linklocal, uniquelocal.
 */
export function trustProxy(env: Env, name: string): boolean | number | string[] {
  const raw = read(env, name);
  if (raw === undefined || raw === 'false') return false;
  if (raw === 'true') return true;
  if (/^\d+$/.test(raw)) return Number(raw);
  const entries = raw.split(',').map((e) => e.trim());
  for (const entry of entries) {
    const [address, bits, ...rest] = entry.split('/');
    const named = ['loopback', 'linklocal', 'uniquelocal'].includes(entry);
    const validBits = bits === undefined || (/^\d+$/.test(bits) && Number(bits) <= (isIP(address) === 6 ? 128 : 32));
    if (!named && (isIP(address) === 0 || !validBits || rest.length > 0)) {
      throw new ConfigError(name, `must be a hop count, true, or addresses/CIDRs/loopback/linklocal/uniquelocal (got "${entry}")`);
    }
  }
  // What Fastify will do with it, here: a range proxy-addr refuses (such as 0.0.0.0/0) is one line
  // naming the variable, not "Tessera failed to start: invalid range on address" from deep inside.
  try {
    proxyAddr.compile(entries);
  } catch (error) {
    throw new ConfigError(
      name,
      `has a range Fastify cannot use: ${(error as Error).message} (to trust every hop, say true; never in production)`,
    );
  }
  return entries;
}

/**
 * The widest CIDR of a TRUST_PROXY list, as the prefix lengths production insists on: an IPv4
 * range wider than /8, an IPv6 one wider than /32, or an IPv4-mapped one wider than ::ffff:0:0/104
 * trusts a good part of the Internet (and `0.0.0.0/1,128.0.0.0/1` all of it).
 */
export function tooWideTrustedRange(entries: string[]): string | undefined {
  return entries.find((entry) => {
    const [address, bits] = entry.split('/');
    if (bits === undefined || isIP(address) === 0) return false;
    const min = isIP(address) === 4 ? 8 : /^::ffff:/i.test(address) ? 104 : 32;
    return Number(bits) < min;
  });
}

export const NODE_ENVIRONMENTS = ['development', 'production', 'test'] as const;

/** NODE_ENV exactly one of development, production or test: "Production" must not silently run as development. */
export function nodeEnvironment(env: Env): (typeof NODE_ENVIRONMENTS)[number] {
  const value = read(env, 'NODE_ENV') ?? 'development';
  if (!(NODE_ENVIRONMENTS as readonly string[]).includes(value)) {
    throw new ConfigError('NODE_ENV', `must be development, production or test, in lower case (got "${value.slice(0, 32)}")`);
  }
  return value as (typeof NODE_ENVIRONMENTS)[number];
}

export function hostname(env: Env, name: string, fallback: string): string {
  const value = read(env, name) ?? fallback;
  if (
    isIP(value) === 0 &&
    !/^(?=.{1,253}$)[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?(\.[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*$/.test(value)
  ) {
    throw new ConfigError(name, `must be an IP address or a host name (got "${value}")`);
  }
  return value;
}

/** Random 32-byte secrets have about 30 distinct byte values; fewer than this is a made-up one. */
const MIN_DISTINCT_SECRET_BYTES = 16;

/** A comma-separated key ring, newest first: each secret 32+ random bytes as hex or base64url. */
export function secrets(env: Env, name: string): Buffer[] | undefined {
  const raw = read(env, name);
  if (raw === undefined) return undefined;
  return raw.split(',').map((entry, index) => {
    const secret = decodeSecret(entry);
    if (!secret)
      throw new ConfigError(name, `entry ${index + 1} must be at least 32 random bytes, as hex (64+ digits) or base64url (43+ characters)`);
    // 32 random bytes hold about 30 distinct values; 000…0, aaa…a or a repeated pair are no secret.
    if (new Set(secret).size < MIN_DISTINCT_SECRET_BYTES) {
      throw new ConfigError(
        name,
        `entry ${index + 1} is not random (only ${new Set(secret).size} distinct byte values): generate one with openssl rand -hex 32`,
      );
    }
    return secret;
  });
}

/** True for http(s)://localhost, 127.0.0.0/8 and [::1]: the only places plain http is acceptable in production. */
export function isLoopbackOrigin(origin: string): boolean {
  const host = new URL(origin).hostname;
  return host === 'localhost' || host.endsWith('.localhost') || host === '[::1]' || /^127\.\d+\.\d+\.\d+$/.test(host);
}
