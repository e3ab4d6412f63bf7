#!/usr/bin/env node
// Static check of docker-compose.yml and Dockerfile, for machines without a Docker engine or
// the compose plugin (CI here). It does not build or run anything.
//
//   node scripts/check-compose.mjs [docker-compose.yml] [Dockerfile]
//
// Paths default to the repository root (this script's parent folder), whatever the cwd.
// Prints "compose: ok" on success; otherwise one line per problem on stderr and exits 1.
//
// Besides the default services (app, redis, postgres, mailpit), it checks the opt-in Redis
// topologies behind compose profiles: every app variant (a service built from this repository) sets
// exactly one of REDIS_URL, REDIS_SENTINELS, REDIS_CLUSTER_NODES and reaches what it names; the
// default `docker compose up` (services without profiles) does not depend on a profiled service;
// Sentinel config agrees with REDIS_SENTINEL_MASTER; a cluster init creates the cluster from all nodes.

import { existsSync, readFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const composePath = resolve(process.argv[2] ?? resolve(root, 'docker-compose.yml'));
const dockerfilePath = resolve(process.argv[3] ?? resolve(root, 'Dockerfile'));

let YAML;
try {
  ({ default: YAML } = await import('yaml'));
} catch {
  console.error('compose: the "yaml" package is not installed (it is a devDependency: run npm ci, or npm i -D yaml)');
  process.exit(1);
}

const problems = [];
const fail = (message) => problems.push(message);
const isMap = (value) => value !== null && typeof value === 'object' && !Array.isArray(value);

// ---------------------------------------------------------------------------------------------
// docker-compose.yml

const VARIABLE = /\$\$|\$\{([A-Za-z_][A-Za-z0-9_]*)(?:(:?)([-?])([^}]*))?\}/g;

/**
 * Compose-style interpolation: ${VAR}, ${VAR:-default}, ${VAR-default}, ${VAR:?error}, ${VAR?error},
 * $$ for a literal $. A required variable that is unset here (CI sets none) stands in as
 * "required-VAR", so the value can still be checked (a URL still parses).
 */
function interpolate(value) {
  if (typeof value !== 'string') return value;
  return value.replace(VARIABLE, (match, name, colon, kind, fallback) => {
    if (match === '$$') return '$';
    const set = process.env[name];
    const missing = colon ? set === undefined || set === '' : set === undefined;
    if (kind === undefined) return set ?? '';
    if (kind === '?') return missing ? `required-${name}` : set;
    return missing ? fallback : set;
  });
}

/**
 * Whether a raw (not interpolated) value is only variables that must be set: `${VAR:?…}` or
 * `${VAR?…}`, with no literal text and no fallback (a default would be a password in this file).
 */
const onlyRequiredVariables = (raw) => raw.replace(/\$\{[A-Za-z_][A-Za-z0-9_]*:?\?[^}]*\}/g, '') === '';

/** Names whose values are credentials; `*_FILE` variables name a file (a secret), not a value. */
const SECRET_NAME = /(PASSWORD|PASSWD|SECRET|TOKEN|(^|_)KEY)S?$/i;

/**
 * No credential is written in the compose file: a secret-named variable (POSTGRES_PASSWORD,
 * SERVER_SECRETS, …) is empty, or comes from a variable the user must set, or from a file;
 * a URL's password likewise. Fallbacks count as literals (`${POSTGRES_PASSWORD:-tessera}`).
 */
function checkNoLiteralSecrets(name, service) {
  const raw = service.environment;
  const entries = Array.isArray(raw)
    ? raw
        .map(String)
        .map((entry) => (entry.includes('=') ? [entry.slice(0, entry.indexOf('=')), entry.slice(entry.indexOf('=') + 1)] : [entry, null]))
    : isMap(raw)
      ? Object.entries(raw)
      : [];
  for (const [key, value] of entries) {
    if (value === null || value === undefined) continue; // passed through from the host environment
    const text = String(value);
    if (SECRET_NAME.test(key) && !/_FILE$/i.test(key)) {
      // Empty (a feature left off, e.g. METRICS_TOKEN: ${METRICS_TOKEN:-}) is no password.
      const emptyFallback = /^\$\{[A-Za-z_][A-Za-z0-9_]*:?-\}$/.test(text);
      if (text !== '' && !emptyFallback && !onlyRequiredVariables(text)) {
        fail(
          `services.${name}.environment.${key} is written in the compose file: use \${${key}:?…} (set in the environment or .env) or a secret file`,
        );
      }
    }
    const userinfo = /^[a-z][a-z0-9+.-]*:\/\/[^/@]*?:(.+)@[^@]*$/i.exec(text);
    if (userinfo && !onlyRequiredVariables(userinfo[1])) {
      fail(`services.${name}.environment.${key} has a password written in its URL: use \${VARIABLE:?…} for it`);
    }
  }
}

/** A service's environment, from either the map or the list ("KEY=value") form. */
function environmentOf(name, service) {
  const env = {};
  const raw = service.environment;
  if (Array.isArray(raw)) {
    for (const entry of raw) {
      const text = String(entry);
      const eq = text.indexOf('=');
      if (eq === -1) env[text] = process.env[text];
      else env[text.slice(0, eq)] = interpolate(text.slice(eq + 1));
    }
  } else if (isMap(raw)) {
    for (const [key, value] of Object.entries(raw)) env[key] = value === null ? undefined : interpolate(String(value));
  } else if (raw !== undefined) {
    fail(`services.${name}.environment must be a map or a list`);
  }
  return env;
}

/** Named volumes (not bind mounts or tmpfs) a service mounts. */
function namedVolumesOf(name, service) {
  const names = [];
  for (const mount of service.volumes ?? []) {
    let source;
    let type;
    if (typeof mount === 'string') {
      const parts = mount.split(':');
      if (parts.length < 2) continue; // anonymous volume ("/path")
      source = parts[0];
      type = /^[./~]/.test(source) || source.includes('/') || source.includes('$') ? 'bind' : 'volume';
    } else if (isMap(mount)) {
      source = mount.source;
      type = mount.type ?? 'volume';
    } else {
      fail(`services.${name}.volumes has an entry that is neither a string nor a map`);
      continue;
    }
    if (type === 'volume' && source) names.push(source);
  }
  return names;
}

function checkHealthcheck(name, service) {
  const check = service.healthcheck;
  if (!isMap(check)) return fail(`services.${name} has no healthcheck`);
  if (check.disable === true) return fail(`services.${name}.healthcheck is disabled`);
  const test = check.test;
  const empty = test === undefined || test === null || test === '' || (Array.isArray(test) && test.length === 0);
  if (empty) return fail(`services.${name}.healthcheck has no test`);
  if (Array.isArray(test) && test[0] === 'NONE') return fail(`services.${name}.healthcheck test is NONE`);
  if (Array.isArray(test) && !['CMD', 'CMD-SHELL'].includes(test[0])) {
    fail(`services.${name}.healthcheck test list must start with CMD or CMD-SHELL (got ${JSON.stringify(test[0])})`);
  }
}

function checkUrl(env, variable, protocols, host, name = 'app') {
  const raw = env[variable];
  if (raw === undefined || raw === '') return fail(`services.${name}.environment has no ${variable}`);
  let url;
  try {
    url = new URL(raw);
  } catch {
    return fail(`services.${name}.environment.${variable} is not a URL: ${raw}`);
  }
  if (!protocols.includes(url.protocol))
    fail(`services.${name}.environment.${variable} must use ${protocols.join(' or ')} (got ${url.protocol})`);
  if (url.hostname !== host)
    fail(`services.${name}.environment.${variable} must point at the "${host}" service (got host "${url.hostname}")`);
}

function checkCompose() {
  if (!existsSync(composePath)) return fail(`${composePath} does not exist`);
  const doc = YAML.parseDocument(readFileSync(composePath, 'utf8'), { merge: true, prettyErrors: true });
  for (const error of doc.errors) fail(`${composePath}: ${error.message.split('\n')[0].replace(/:$/, '')}`);
  if (doc.errors.length > 0) return;
  const compose = doc.toJS({ maxAliasCount: 1000 });
  if (!isMap(compose)) return fail(`${composePath} is not a YAML map`);
  const services = compose.services;
  if (!isMap(services)) return fail('top-level "services" is missing or not a map');

  const declaredVolumes = isMap(compose.volumes) ? Object.keys(compose.volumes) : [];
  const declaredSecrets = isMap(compose.secrets) ? Object.keys(compose.secrets) : [];

  for (const required of ['app', 'redis', 'postgres']) {
    if (!isMap(services[required])) fail(`services.${required} is missing`);
  }

  for (const [name, service] of Object.entries(services)) {
    if (!isMap(service)) {
      fail(`services.${name} is not a map`);
      continue;
    }
    if (service.image === undefined && service.build === undefined) fail(`services.${name} has neither image nor build`);
    // A one-shot job (the cluster init) runs to completion: its dependents wait for it to exit 0, not to be healthy.
    if (!isOneShot(name, service, services)) checkHealthcheck(name, service);
    checkNoLiteralSecrets(name, service);
    for (const volume of namedVolumesOf(name, service)) {
      if (!declaredVolumes.includes(volume))
        fail(`services.${name} uses volume "${volume}", which is not declared under top-level volumes`);
    }
    const dependencies = Array.isArray(service.depends_on)
      ? service.depends_on
      : isMap(service.depends_on)
        ? Object.keys(service.depends_on)
        : [];
    for (const dependency of dependencies) {
      if (!isMap(services[dependency])) fail(`services.${name}.depends_on names "${dependency}", which is not a service`);
    }
    for (const secret of service.secrets ?? []) {
      const secretName = typeof secret === 'string' ? secret : secret?.source;
      if (!declaredSecrets.includes(secretName))
        fail(`services.${name} uses secret "${secretName}", which is not declared under top-level secrets`);
    }
  }

  const redis = services.redis;
  if (isMap(redis)) {
    const command = Array.isArray(redis.command)
      ? redis.command.map(String)
      : String(redis.command ?? '')
          .trim()
          .split(/\s+/);
    const at = command.indexOf('--appendonly');
    if (at === -1 || command[at + 1] !== 'yes') fail('services.redis.command must enable persistence with "--appendonly yes"');
  }

  const app = services.app;
  if (isMap(app)) {
    if (profilesOf(app).length > 0) fail('services.app must have no profiles: it is what a plain `docker compose up` starts');
    const dependsOn = app.depends_on;
    for (const dependency of ['redis', 'postgres']) {
      if (Array.isArray(dependsOn) ? dependsOn.includes(dependency) : false) {
        fail(`services.app.depends_on.${dependency} must use the long form with condition: service_healthy`);
      } else if (!isMap(dependsOn) || !isMap(dependsOn[dependency])) {
        fail(`services.app.depends_on is missing ${dependency}`);
      } else if (dependsOn[dependency].condition !== 'service_healthy') {
        fail(`services.app.depends_on.${dependency}.condition must be service_healthy (got ${dependsOn[dependency].condition ?? 'none'})`);
      }
    }
    checkUrl(environmentOf('app', app), 'REDIS_URL', ['redis:', 'rediss:'], 'redis');
  }

  for (const [name, service] of Object.entries(services)) {
    if (isMap(service) && isAppVariant(name, service, app)) checkAppVariant(name, service, services);
  }
  checkProfiles(services);
  checkNetworks(compose, services);
  checkRedisServices(services);
}

/** The app and its topology variants: the services built from this repository (or running its image). */
const isAppVariant = (name, service, app) =>
  name === 'app' || service.build !== undefined || (isMap(app) && app.image !== undefined && service.image === app.image);

const profilesOf = (service) => (Array.isArray(service.profiles) ? service.profiles.map(String) : []);

/** depends_on as { service: condition } (the short form means service_started). */
function dependenciesOf(service) {
  if (Array.isArray(service.depends_on)) return Object.fromEntries(service.depends_on.map((d) => [d, 'service_started']));
  if (isMap(service.depends_on))
    return Object.fromEntries(Object.entries(service.depends_on).map(([d, v]) => [d, (isMap(v) && v.condition) || 'service_started']));
  return {};
}

/** A job that runs once: restart "no" (or unset), and whatever depends on it waits for it to complete. */
function isOneShot(name, service, services) {
  if (service.restart !== undefined && service.restart !== 'no') return false;
  const conditions = Object.values(services)
    .filter(isMap)
    .map((other) => dependenciesOf(other)[name])
    .filter((condition) => condition !== undefined);
  return conditions.length > 0 && conditions.every((condition) => condition === 'service_completed_successfully');
}

/** The whole command as one string (a list is joined with spaces; an `sh -c` script stays as written). */
const commandText = (service) => (Array.isArray(service.command) ? service.command.map(String).join(' ') : String(service.command ?? ''));

const healthcheckText = (service) => {
  const test = service.healthcheck?.test;
  return Array.isArray(test) ? test.slice(1).map(String).join(' ') : String(test ?? '');
};

const isRedisImage = (service) => /^(docker\.io\/)?(library\/)?redis(:|@|$)/.test(String(service.image ?? ''));
const isSentinel = (service) => /(^|\s)--sentinel(\s|$)|\bredis-sentinel\s/.test(commandText(service));
const isClusterNode = (service) => /(^|\s)-{0,2}cluster-enabled['"]?\s+['"]?yes\b/.test(commandText(service));

/** The networks a service joins ("default" when it names none). */
function networksOf(service) {
  if (Array.isArray(service.networks)) return service.networks.map(String);
  if (isMap(service.networks)) return Object.keys(service.networks);
  return ['default'];
}

const shareNetwork = (a, b) => networksOf(a).some((network) => networksOf(b).includes(network));

const TOPOLOGY_VARIABLES = ['REDIS_URL', 'REDIS_SENTINELS', 'REDIS_CLUSTER_NODES'];

/** What every app variant needs, and the one Redis topology it names (exactly one). */
function checkAppVariant(name, service, services) {
  const env = environmentOf(name, service);
  const dependencies = dependenciesOf(service);
  checkUrl(env, 'DATABASE_URL', ['postgres:', 'postgresql:'], 'postgres', name);
  if (dependencies.postgres !== 'service_healthy') fail(`services.${name}.depends_on.postgres must have condition: service_healthy`);
  if (env.NODE_ENV === 'production') {
    // What a production start-up refuses to run without (src/config/configuration.ts).
    for (const variable of ['SERVER_SECRETS', 'PUBLIC_ORIGIN', 'JWT_PRIVATE_KEY_FILE', 'SMTP_URL', 'APP_URL']) {
      if (env[variable] === undefined || env[variable] === '')
        fail(`services.${name}.environment has no ${variable}, which production requires`);
    }
  }
  const keyFile = env.JWT_PRIVATE_KEY_FILE;
  if (keyFile && keyFile.startsWith('/run/secrets/')) {
    const secret = keyFile.slice('/run/secrets/'.length);
    const mounted = (service.secrets ?? []).some((s) => (typeof s === 'string' ? s === secret : (s?.target ?? s?.source) === secret));
    if (!mounted)
      fail(`services.${name}.environment.JWT_PRIVATE_KEY_FILE points at secret "${secret}", which services.${name} does not mount`);
  }

  // Tessera refuses to start with more than one (src/config/configuration.ts); none would mean in-memory stores.
  const set = TOPOLOGY_VARIABLES.filter((variable) => env[variable] !== undefined && env[variable] !== '');
  if (set.length !== 1) {
    fail(`services.${name}.environment must set exactly one of ${TOPOLOGY_VARIABLES.join(', ')} (got ${set.join(', ') || 'none'})`);
  }
  if (name !== 'app' && profilesOf(service).length === 0) {
    fail(`services.${name} needs profiles: without one, a plain \`docker compose up\` would start it beside services.app`);
  }
  if (set.includes('REDIS_SENTINELS')) checkSentinelVariant(name, service, env, services);
  else if (env.REDIS_SENTINEL_MASTER) fail(`services.${name}.environment.REDIS_SENTINEL_MASTER is set without REDIS_SENTINELS`);
  if (set.includes('REDIS_CLUSTER_NODES')) checkClusterVariant(name, service, env, services);
}

/** REDIS_SENTINELS names sentinels that monitor REDIS_SENTINEL_MASTER, in a group that can elect a leader. */
function checkSentinelVariant(name, service, env, services) {
  const master = env.REDIS_SENTINEL_MASTER;
  if (!master) fail(`services.${name}.environment.REDIS_SENTINEL_MASTER must be set with REDIS_SENTINELS (the monitored master name)`);
  const dependencies = dependenciesOf(service);
  const listed = env.REDIS_SENTINELS.split(',')
    .map((entry) => entry.trim())
    .filter(Boolean);
  if (listed.length < 3) fail(`services.${name}.environment.REDIS_SENTINELS lists ${listed.length} sentinels; a failover needs at least 3`);
  const monitored = new Set();
  for (const entry of listed) {
    const match = /^([^:\s]+):(\d+)$/.exec(entry);
    if (!match) {
      fail(`services.${name}.environment.REDIS_SENTINELS has "${entry}", not host:port`);
      continue;
    }
    const [, host, port] = match;
    const sentinel = services[host];
    if (!isMap(sentinel) || !isSentinel(sentinel)) {
      fail(`services.${name}.environment.REDIS_SENTINELS names "${host}", which is not a sentinel service (redis-server … --sentinel)`);
      continue;
    }
    if (dependencies[host] !== 'service_healthy') fail(`services.${name}.depends_on.${host} must have condition: service_healthy`);
    const config = commandText(sentinel);
    const configuredPort = /(?:^|['"\s])port\s+(\d+)/.exec(config)?.[1] ?? '26379';
    if (configuredPort !== port) fail(`services.${host} listens on port ${configuredPort}, but services.${name} looks for it on ${port}`);
    const monitor = /sentinel\s+monitor\s+(\S+)\s+(\S+)\s+(\d+)\s+(\d+)/.exec(config);
    if (!monitor) {
      fail(`services.${host} has no "sentinel monitor <master> <host> <port> <quorum>" in its command`);
      continue;
    }
    const [, monitorName, monitorHost, , quorum] = monitor;
    if (master && monitorName !== master)
      fail(`services.${host} monitors master "${monitorName}", but services.${name}.environment.REDIS_SENTINEL_MASTER is "${master}"`);
    const quorumCount = Number(quorum);
    if (quorumCount <= listed.length / 2 || quorumCount > listed.length)
      fail(`services.${host}: quorum ${quorum} must be a majority of the ${listed.length} sentinels (and at most all of them)`);
    for (const option of ['down-after-milliseconds', 'failover-timeout']) {
      if (!new RegExp(`sentinel\\s+${option}\\s+${monitorName}\\s+\\d+`).test(config))
        fail(`services.${host} does not set "sentinel ${option} ${monitorName} <ms>"`);
    }
    if (!healthcheckText(sentinel).includes(`get-master-addr-by-name ${monitorName}`))
      fail(`services.${host}.healthcheck must ask "sentinel get-master-addr-by-name ${monitorName}"`);
    if (/[a-z]/i.test(monitorHost) && !/sentinel\s+resolve-hostnames\s+yes/.test(config))
      fail(`services.${host} monitors "${monitorHost}" by name without "sentinel resolve-hostnames yes"`);
    monitored.add(monitorHost);
  }
  if (monitored.size > 1) fail(`the sentinels of services.${name} monitor different primaries (${[...monitored].join(', ')})`);
  for (const host of monitored) {
    if (!isMap(services[host])) fail(`the sentinels of services.${name} monitor "${host}", which is not a service`);
  }
}

/** REDIS_CLUSTER_NODES names cluster nodes; an init service creates the cluster from every node, and the variant waits for it. */
function checkClusterVariant(name, service, env, services) {
  const profiles = profilesOf(service);
  const dependencies = dependenciesOf(service);
  const nodes = Object.entries(services).filter(
    ([, other]) => isMap(other) && isClusterNode(other) && (profiles.length === 0 || profilesOf(other).some((p) => profiles.includes(p))),
  );
  const nodeNames = nodes.map(([nodeName]) => nodeName);
  for (const entry of env.REDIS_CLUSTER_NODES.split(',')
    .map((e) => e.trim())
    .filter(Boolean)) {
    let url;
    try {
      url = new URL(entry);
    } catch {
      fail(`services.${name}.environment.REDIS_CLUSTER_NODES has "${entry}", not a redis:// URL`);
      continue;
    }
    if (!['redis:', 'rediss:'].includes(url.protocol))
      fail(`services.${name}.environment.REDIS_CLUSTER_NODES must use redis:// or rediss:// (got ${url.protocol})`);
    if (!nodeNames.includes(url.hostname))
      fail(`services.${name}.environment.REDIS_CLUSTER_NODES names "${url.hostname}", which is not a cluster node service of its profile`);
  }
  if (nodes.length < 6) fail(`services.${name}'s cluster has ${nodes.length} nodes; 3 masters with a replica each need 6`);

  for (const [nodeName, node] of nodes) {
    const command = commandText(node);
    if (!/cluster-node-timeout['"]?\s+['"]?\d+/.test(command)) fail(`services.${nodeName} does not set --cluster-node-timeout`);
    if (!healthcheckText(node).includes('cluster_state:ok'))
      fail(`services.${nodeName}.healthcheck must check that "cluster info" says cluster_state:ok`);
    // Clients follow MOVED to the address a node announces: its service name, or a fixed IP on the compose network.
    const hostname = /cluster-announce-hostname['"]?\s+['"]?([^\s'"]+)/.exec(command)?.[1];
    const fixedIp = isMap(node.networks) && Object.values(node.networks).some((n) => isMap(n) && n.ipv4_address);
    if (hostname !== undefined && hostname !== nodeName)
      fail(`services.${nodeName} announces hostname "${hostname}", not its service name`);
    if (hostname === undefined && !fixedIp)
      fail(
        `services.${nodeName} needs --cluster-announce-hostname ${nodeName} or a fixed ipv4_address: clients must reach the address it announces`,
      );
    if (hostname !== undefined && !/cluster-preferred-endpoint-type['"]?\s+['"]?hostname/.test(command) && !fixedIp)
      fail(`services.${nodeName} announces a hostname without --cluster-preferred-endpoint-type hostname`);
  }

  const inits = Object.entries(services).filter(([, other]) => isMap(other) && /--cluster\s+create\b/.test(commandText(other)));
  const init = inits.find(([initName]) => dependencies[initName] !== undefined);
  if (!init) return fail(`services.${name} does not depend on a service that runs "redis-cli --cluster create"`);
  const [initName, initService] = init;
  if (dependencies[initName] !== 'service_completed_successfully')
    fail(`services.${name}.depends_on.${initName} must have condition: service_completed_successfully`);
  const command = commandText(initService);
  const created = /--cluster\s+create\s+((?:[^\s-][^\s]*\s+)+)/.exec(command)?.[1].trim().split(/\s+/) ?? [];
  const addressOf = (nodeName, node) => [
    nodeName,
    ...(isMap(node.networks) ? Object.values(node.networks).map((n) => (isMap(n) ? n.ipv4_address : undefined)) : []),
  ];
  const createdNodes = created.map((address) => {
    const [host, port] = address.split(':');
    const found = nodes.find(([nodeName, node]) => addressOf(nodeName, node).includes(host));
    if (!found) fail(`services.${initName} creates the cluster with "${address}", which is not a cluster node`);
    else if (port !== (/--port['"]?\s+['"]?(\d+)/.exec(commandText(found[1]))?.[1] ?? '6379'))
      fail(`services.${initName} creates the cluster with "${address}", not the port services.${found[0]} listens on`);
    return found?.[0];
  });
  for (const nodeName of nodeNames) {
    const times = createdNodes.filter((n) => n === nodeName).length;
    if (times !== 1) fail(`services.${initName}'s "--cluster create" must list services.${nodeName} once (got ${times})`);
    if (dependenciesOf(initService)[nodeName] !== 'service_healthy')
      fail(`services.${initName}.depends_on.${nodeName} must have condition: service_healthy`);
  }
  const replicas = Number(/--cluster-replicas\s+(\d+)/.exec(command)?.[1] ?? 0);
  if (replicas < 1) fail(`services.${initName} must create the cluster with --cluster-replicas 1 (a replica per master)`);
  else if (created.length / (replicas + 1) < 3)
    fail(`services.${initName}: ${created.length} nodes with ${replicas} replicas each make fewer than 3 masters`);
  if (!/--cluster-yes\b/.test(command)) fail(`services.${initName} must pass --cluster-yes (nobody answers the prompt)`);
}

/**
 * A plain `docker compose up` starts exactly the services without profiles; they must not need a
 * profiled one. A profiled service's dependencies must be started with it (no profile, or a shared one),
 * and every Redis besides services.redis (Sentinel, Cluster) is opt-in.
 */
function checkProfiles(services) {
  for (const [name, service] of Object.entries(services)) {
    if (!isMap(service)) continue;
    const profiles = profilesOf(service);
    if (name !== 'redis' && isRedisImage(service) && profiles.length === 0)
      fail(`services.${name} is a Redis beside services.redis but has no profiles: a plain \`docker compose up\` would start it`);
    for (const dependency of Object.keys(dependenciesOf(service))) {
      const other = services[dependency];
      if (!isMap(other)) continue;
      const theirs = profilesOf(other);
      if (theirs.length > 0 && !theirs.some((p) => profiles.includes(p))) {
        fail(
          profiles.length === 0
            ? `services.${name} (no profile, started by default) depends on services.${dependency}, which only runs with profile ${theirs.join('/')}`
            : `services.${name} (profile ${profiles.join('/')}) depends on services.${dependency}, which has none of its profiles`,
        );
      }
    }
  }
}

/** Networks are declared, and a service shares a network with what it depends on and with the Redis nodes of its profile. */
function checkNetworks(compose, services) {
  const declared = isMap(compose.networks) ? Object.keys(compose.networks) : [];
  const app = services.app;
  for (const [name, service] of Object.entries(services)) {
    if (!isMap(service)) continue;
    for (const network of networksOf(service)) {
      if (network !== 'default' && !declared.includes(network))
        fail(`services.${name} joins network "${network}", which is not declared under top-level networks`);
    }
    const reach = new Set(Object.keys(dependenciesOf(service)));
    if (isAppVariant(name, service, app) && profilesOf(service).length > 0) {
      // Sentinel hands out the primary's and replicas' addresses; a cluster sends MOVED to any node.
      for (const [otherName, other] of Object.entries(services)) {
        if (isMap(other) && isRedisImage(other) && profilesOf(other).some((p) => profilesOf(service).includes(p))) reach.add(otherName);
      }
    }
    for (const otherName of reach) {
      const other = services[otherName];
      if (isMap(other) && !isOneShot(otherName, other, services) && !shareNetwork(service, other))
        fail(`services.${name} shares no network with services.${otherName}, which it needs to reach`);
    }
  }
}

/** Every long-running Redis has a redis-cli healthcheck; data nodes keep an AOF in a named volume. */
function checkRedisServices(services) {
  for (const [name, service] of Object.entries(services)) {
    if (!isMap(service) || !isRedisImage(service) || isOneShot(name, service, services)) continue;
    const check = healthcheckText(service);
    if (!check.includes('redis-cli')) fail(`services.${name}.healthcheck must use redis-cli`);
    if (isSentinel(service)) {
      if (!/get-master-addr-by-name/.test(check)) fail(`services.${name}.healthcheck must ask "sentinel get-master-addr-by-name <master>"`);
      continue;
    }
    if (!/\bping\b/.test(check)) fail(`services.${name}.healthcheck must run "redis-cli ping"`);
    if (!/-{0,2}appendonly['"]?\s+['"]?yes\b/.test(commandText(service)))
      fail(`services.${name}.command must enable persistence with "--appendonly yes" (any data node may be the primary)`);
    const dataVolume = (service.volumes ?? []).some((mount) =>
      typeof mount === 'string'
        ? /^[A-Za-z0-9][\w.-]*:\/data(:|$)/.test(mount)
        : isMap(mount) && mount.target === '/data' && (mount.type ?? 'volume') === 'volume',
    );
    if (!dataVolume) fail(`services.${name} keeps /data in no named volume: its AOF would not survive the container`);
  }
}

// ---------------------------------------------------------------------------------------------
// Dockerfile

/** Instructions as { keyword, args, line }, with comments dropped and continuations joined. */
function dockerInstructions(text) {
  let escape = '\\';
  const lines = text.split(/\r?\n/);
  // Parser directives (e.g. "# escape=`") may only appear at the very top.
  for (const line of lines) {
    const directive = /^#\s*([a-zA-Z]+)\s*=\s*(\S+)\s*$/.exec(line);
    if (!directive) break;
    if (directive[1].toLowerCase() === 'escape') escape = directive[2];
  }
  const instructions = [];
  let buffer = '';
  let start = 0;
  lines.forEach((line, index) => {
    if (buffer === '' && /^\s*(#|$)/.test(line)) return;
    if (buffer !== '' && /^\s*#/.test(line)) return; // comment inside a continuation
    if (buffer === '') start = index + 1;
    const trimmed = line.replace(/\s+$/, '');
    if (trimmed.endsWith(escape)) {
      buffer += trimmed.slice(0, -escape.length) + ' ';
      return;
    }
    buffer += line;
    const match = /^\s*([A-Za-z]+)\s*(.*)$/s.exec(buffer);
    if (match) instructions.push({ keyword: match[1].toUpperCase(), args: match[2].trim(), line: start });
    buffer = '';
  });
  if (buffer.trim() !== '') {
    const match = /^\s*([A-Za-z]+)\s*(.*)$/s.exec(buffer);
    if (match) instructions.push({ keyword: match[1].toUpperCase(), args: match[2].trim(), line: start });
  }
  return instructions;
}

/** An exec-form (JSON array) argument list, or undefined for the shell form. */
function execForm(args) {
  if (!args.startsWith('[')) return undefined;
  try {
    const parsed = JSON.parse(args);
    return Array.isArray(parsed) && parsed.every((a) => typeof a === 'string') ? parsed : undefined;
  } catch {
    return undefined;
  }
}

function checkDockerfile() {
  if (!existsSync(dockerfilePath)) return fail(`${dockerfilePath} does not exist`);
  const instructions = dockerInstructions(readFileSync(dockerfilePath, 'utf8'));

  // Split into stages; each stage remembers its base (an image or an earlier stage's name).
  const stages = [];
  for (const instruction of instructions) {
    if (instruction.keyword === 'FROM') {
      const words = instruction.args.split(/\s+/).filter((w) => !w.startsWith('--'));
      const asAt = words.findIndex((w) => w.toLowerCase() === 'as');
      stages.push({
        base: words[0],
        name: asAt !== -1 ? words[asAt + 1]?.toLowerCase() : undefined,
        line: instruction.line,
        instructions: [],
      });
    } else if (stages.length > 0) {
      stages.at(-1).instructions.push(instruction);
    } else if (instruction.keyword !== 'ARG') {
      fail(`Dockerfile line ${instruction.line}: ${instruction.keyword} before the first FROM`);
    }
  }
  if (stages.length < 2) fail(`Dockerfile must be multi-stage (found ${stages.length} FROM)`);
  if (stages.length === 0) return;

  // The last value of an instruction in the final stage, following `FROM <earlier stage>` chains.
  const lastInChain = (keyword) => {
    let index = stages.length - 1;
    const seen = new Set();
    while (index !== -1 && !seen.has(index)) {
      seen.add(index);
      const stage = stages[index];
      const found = stage.instructions.filter((i) => i.keyword === keyword).at(-1);
      if (found) return found;
      const base = stage.base?.toLowerCase();
      index = stages.findIndex((s, i) => i < index && s.name === base);
    }
    return undefined;
  };

  // Installs take exactly package-lock.json: `npm ci`, never `npm install` (which may rewrite it).
  const runs = stages.flatMap((stage) => stage.instructions.filter((i) => i.keyword === 'RUN'));
  for (const run of runs) {
    if (/\bnpm\s+(install|i|add|isntall|update|up)\b/.test(run.args))
      fail(`Dockerfile line ${run.line}: installs with "npm install"; use "npm ci" (the lockfile, exactly)`);
  }
  if (!runs.some((run) => /\bnpm\s+ci\b/.test(run.args))) fail('Dockerfile installs no dependencies with "npm ci"');

  const user = lastInChain('USER');
  if (!user) {
    fail('Dockerfile final stage has no USER (it would run as root)');
  } else {
    const name = user.args.split(':')[0].trim();
    if (name === 'root' || name === '0' || name === '') fail(`Dockerfile line ${user.line}: final stage runs as root (USER ${user.args})`);
  }

  const cmd = lastInChain('CMD');
  const entrypoint = lastInChain('ENTRYPOINT');
  if (!cmd) {
    fail('Dockerfile final stage has no CMD');
  } else {
    const words = execForm(cmd.args) ?? cmd.args.split(/\s+/);
    const full = [...(entrypoint ? (execForm(entrypoint.args) ?? entrypoint.args.split(/\s+/)) : []), ...words];
    const runsMain = full.some((w) => w === 'dist/main.js' || w === './dist/main.js' || w === '/app/dist/main.js');
    const runsNode = full.some((w) => w === 'node' || w.endsWith('/node'));
    if (!runsMain || !runsNode) fail(`Dockerfile line ${cmd.line}: CMD must run "node dist/main.js" (got ${cmd.args})`);
  }
}

checkCompose();
checkDockerfile();

if (problems.length > 0) {
  for (const problem of problems) console.error(`compose: ${problem}`);
  process.exit(1);
}
console.log('compose: ok');
