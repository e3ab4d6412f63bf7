#!/usr/bin/env node
// Static check of docker-compose.yml and Dockerfile, for machines without a Docker engine or
// the compose plugin (CI here). It does not build or run anything.
//
//   node scripts/check-compose.mjs [docker-compose.yml] [Dockerfile]
//
// Paths default to the repository root (this script's parent folder), whatever the cwd.
// Prints "compose: ok" on success; otherwise one line per problem on stderr and exits 1.

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

function checkUrl(env, variable, protocols, host) {
  const raw = env[variable];
  if (raw === undefined || raw === '') return fail(`services.app.environment has no ${variable}`);
  let url;
  try {
    url = new URL(raw);
  } catch {
    return fail(`services.app.environment.${variable} is not a URL: ${raw}`);
  }
  if (!protocols.includes(url.protocol))
    fail(`services.app.environment.${variable} must use ${protocols.join(' or ')} (got ${url.protocol})`);
  if (url.hostname !== host) fail(`services.app.environment.${variable} must point at the "${host}" service (got host "${url.hostname}")`);
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
    checkHealthcheck(name, service);
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
    const env = environmentOf('app', app);
    checkUrl(env, 'DATABASE_URL', ['postgres:', 'postgresql:'], 'postgres');
    checkUrl(env, 'REDIS_URL', ['redis:', 'rediss:'], 'redis');
    if (env.NODE_ENV === 'production') {
      // What a production start-up refuses to run without (src/config/configuration.ts).
      for (const variable of ['SERVER_SECRETS', 'PUBLIC_ORIGIN', 'JWT_PRIVATE_KEY_FILE', 'SMTP_URL', 'APP_URL']) {
        if (env[variable] === undefined || env[variable] === '')
          fail(`services.app.environment has no ${variable}, which production requires`);
      }
    }
    const keyFile = env.JWT_PRIVATE_KEY_FILE;
    if (keyFile && keyFile.startsWith('/run/secrets/')) {
      const secret = keyFile.slice('/run/secrets/'.length);
      const mounted = (app.secrets ?? []).some((s) => (typeof s === 'string' ? s === secret : (s?.target ?? s?.source) === secret));
      if (!mounted) fail(`services.app.environment.JWT_PRIVATE_KEY_FILE points at secret "${secret}", which services.app does not mount`);
    }
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
