// `npm run bench`: starts the built production server (and a stateless reference app), drives them
// with autocannon from this separate process, prints one table and writes bench/results.json.
//
//   npm run bench                 # every scenario but sessions-1m
//   npm run bench -- --large      # also sessions-1m (1,000,000 live sessions in Redis)
//   npm run bench -- --quick      # CI smoke: one short run per scenario, no targets
//   npm run bench -- --only=public,me
//   npm run bench -- --only=refresh --profile   # CPU profile of the server in bench/profiles/
//   npm run bench -- --cluster    # also me, refresh and revocation on a local 3-master Redis Cluster
//                                 # (one replica each, from redis-server) with two app instances
//   npm run bench -- --only=downstream   # the example downstream service (verifier package) alone
//
// Needs REDIS_URL; uses DATABASE_URL when set, the embedded database otherwise.
import { spawn } from 'node:child_process';
import { generateKeyPairSync, randomBytes, randomUUID } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, tmpdir, totalmem } from 'node:os';
import { join } from 'node:path';
import { createServer } from 'node:net';
import { fileURLToPath } from 'node:url';
import autocannon from 'autocannon';
import { SMTPServer } from 'smtp-server';

const root = fileURLToPath(new URL('..', import.meta.url));
const args = Object.fromEntries(
  process.argv.slice(2).map((a) => {
    const [k, v] = a.replace(/^--/, '').split('=');
    return [k, v ?? true];
  }),
);
const quick = Boolean(args.quick);
const large = Boolean(args.large);
const cluster = Boolean(args.cluster);
const only = typeof args.only === 'string' ? new Set(args.only.split(',')) : undefined;
const RUNS = quick ? 1 : Number(args.runs ?? 5);
const DURATION = quick ? 2 : Number(args.duration ?? 4);
const CONNECTIONS = 32;
const want = (name) => (only ? only.has(name) : name !== 'sessions-1m' || large);

if (!process.env.REDIS_URL) {
  console.error('bench: REDIS_URL is required (the point is a store-checked request), e.g. REDIS_URL=redis://127.0.0.1:6379 npm run bench');
  process.exit(1);
}

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
};
async function freePort() {
  const server = createServer();
  await new Promise((r) => server.listen(0, '127.0.0.1', r));
  const { port } = server.address();
  await new Promise((r) => server.close(r));
  return port;
}

// ---------------------------------------------------------------- processes
const work = mkdtempSync(join(tmpdir(), 'tessera-bench-'));
const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
const keyFile = join(work, 'jwt-private.pem');
const serverSecret = randomBytes(32).toString('hex');
const publicKeyFile = join(work, 'jwt-public.pem');
writeFileSync(keyFile, privateKey.export({ type: 'pkcs8', format: 'pem' }));
writeFileSync(publicKeyFile, publicKey.export({ type: 'spki', format: 'pem' }));
const children = [];
let localCluster;

// Production requires SMTP_URL: registrations queue verification mails, so a sink SMTP server in
// this process accepts them (and throws them away) rather than letting them pile up in retries.
const smtpSink = new SMTPServer({
  authOptional: true,
  disabledCommands: ['STARTTLS'],
  logger: false,
  onData: (stream, _session, callback) => {
    stream.on('end', () => callback());
    stream.resume();
  },
});
const smtpPort = await freePort();
await new Promise((resolve) => smtpSink.listen(smtpPort, '127.0.0.1', resolve));

async function startProcess(name, script, env, readyPath, portVariable = 'PORT') {
  const port = await freePort();
  // --profile: the Tessera server writes a V8 CPU profile into bench/profiles/ when it stops.
  const profile = args.profile && name === 'tessera' ? ['--cpu-prof', `--cpu-prof-dir=${join(root, 'bench', 'profiles')}`] : [];
  const child = spawn(process.execPath, [...profile, script], {
    cwd: root,
    // An env value of undefined removes the variable (the cluster instances must not see REDIS_URL).
    env: Object.fromEntries(Object.entries({ ...process.env, ...env, [portVariable]: String(port) }).filter(([, v]) => v !== undefined)),
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  let stderr = '';
  child.stderr.on('data', (d) => (stderr += d));
  children.push(child);
  const base = `http://127.0.0.1:${port}`;
  for (let i = 0; i < 600; i++) {
    if (child.exitCode !== null) throw new Error(`${name} exited: ${stderr}`);
    try {
      if ((await fetch(base + readyPath)).status < 500) return { base, child };
    } catch {
      // not listening yet
    }
    await sleep(100);
  }
  throw new Error(`${name} did not start: ${stderr}`);
}

function serverEnv(dataDir) {
  return {
    NODE_ENV: 'production',
    // What production requires (the server refuses to start without them).
    SERVER_SECRETS: serverSecret,
    PUBLIC_ORIGIN: 'http://localhost',
    SMTP_URL: `smtp://127.0.0.1:${smtpPort}`,
    APP_URL: 'http://localhost/demo',
    LOG_LEVEL: 'warn',
    DATA_DIR: dataDir,
    JWT_PRIVATE_KEY_FILE: keyFile,
    THROTTLE_LOGIN_LIMIT: '1000000',
    THROTTLE_REFRESH_LIMIT: '1000000',
    THROTTLE_LIMIT: '1000000',
    THROTTLE_REGISTER_LIMIT: '1000000',
    // The bench registers its users in bursts: let them queue for the hashing slots.
    PASSWORD_HASH_QUEUE: '10000',
    // The downstream services' credential (production wants 32 characters or more).
    SERVICE_CLIENTS: `bench-downstream:${serverSecret}`,
  };
}

async function shutdown() {
  const exits = children.filter((child) => child.exitCode === null).map((child) => new Promise((resolve) => child.once('exit', resolve)));
  for (const child of children) if (child.exitCode === null) child.kill('SIGTERM');
  await Promise.race([Promise.all(exits), sleep(5000)]);
  if (localCluster) await localCluster.stop();
  await Promise.race([new Promise((resolve) => smtpSink.close(resolve)), sleep(2000)]);
  rmSync(work, { recursive: true, force: true });
}
process.on('SIGINT', () => shutdown().then(() => process.exit(130)));

// ---------------------------------------------------------------- HTTP helpers
async function json(base, path, { method = 'GET', body, token } = {}) {
  const response = await fetch(base + path, {
    method,
    headers: { 'content-type': 'application/json', ...(token ? { authorization: `Bearer ${token}` } : {}) },
    body: body ? JSON.stringify(body) : undefined,
  });
  const text = await response.text();
  return { status: response.status, body: text ? JSON.parse(text) : undefined };
}
const PASSWORD = 'correct horse battery staple';
const USER_AGENT = 'Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/142.0.0.0 Safari/537.36';
async function newUser(base) {
  const email = `bench-${randomUUID()}@example.com`;
  const registered = await json(base, '/auth/register', { method: 'POST', body: { email, password: PASSWORD } });
  if (registered.status !== 201) throw new Error(`register: ${registered.status}`);
  return email;
}
async function nativeLogin(base, email) {
  const login = await json(base, '/auth/login', { method: 'POST', body: { email, password: PASSWORD, client: 'native' } });
  if (login.status !== 200) throw new Error(`login: ${login.status} ${JSON.stringify(login.body)}`);
  return login.body;
}

// ---------------------------------------------------------------- load
function cannon(options) {
  return new Promise((resolve, reject) => {
    autocannon({ connections: CONNECTIONS, duration: DURATION, ...options }, (error, result) => (error ? reject(error) : resolve(result)));
  });
}

/** Median req/s and latencies of RUNS runs, after one warm-up run; non-2xx answers fail the bench. */
async function measure(name, { beforeRun = () => {}, ...options }) {
  beforeRun();
  await cannon({ ...options, duration: quick ? 1 : 2 });
  const runs = [];
  for (let i = 0; i < RUNS; i++) {
    beforeRun();
    const result = await cannon(options);
    if (result.non2xx > 0 || result.errors > 0) throw new Error(`${name}: ${result.non2xx} non-2xx, ${result.errors} errors`);
    runs.push({ rps: result.requests.average, p50: result.latency.p50, p99: result.latency.p99 });
  }
  const row = {
    rps: Math.round(median(runs.map((r) => r.rps))),
    p50: median(runs.map((r) => r.p50)),
    p99: median(runs.map((r) => r.p99)),
    runs: runs.map((r) => Math.round(r.rps)),
  };
  console.error(`  ${name}: ${row.rps} req/s (runs ${row.runs.join(', ')}), p50 ${row.p50} ms, p99 ${row.p99} ms`);
  return row;
}

/** Like measure(), for several scenarios run in turn each round; keeps each round's req/s for ratios. */
async function measureInterleaved(scenarios) {
  const names = Object.keys(scenarios);
  for (const name of names) await cannon({ ...scenarios[name], duration: quick ? 1 : 2 });
  const runs = Object.fromEntries(names.map((name) => [name, []]));
  for (let i = 0; i < RUNS; i++) {
    for (const name of names) {
      const result = await cannon(scenarios[name]);
      if (result.non2xx > 0 || result.errors > 0) throw new Error(`${name}: ${result.non2xx} non-2xx, ${result.errors} errors`);
      runs[name].push({ rps: result.requests.average, p50: result.latency.p50, p99: result.latency.p99 });
    }
  }
  const rows = {};
  for (const name of names) {
    const r = runs[name];
    rows[name] = {
      rps: Math.round(median(r.map((x) => x.rps))),
      p50: median(r.map((x) => x.p50)),
      p99: median(r.map((x) => x.p99)),
      runs: r.map((x) => Math.round(x.rps)),
    };
    console.error(
      `  ${name}: ${rows[name].rps} req/s (runs ${rows[name].runs.join(', ')}), p50 ${rows[name].p50} ms, p99 ${rows[name].p99} ms`,
    );
  }
  return rows;
}

// ---------------------------------------------------------------- scenarios
const results = { scenarios: {}, ratios: {}, targets: {} };
const databaseUrl = process.env.DATABASE_URL;

try {
  console.error(`bench: ${RUNS} run(s) × ${DURATION}s per scenario, ${CONNECTIONS} connections${quick ? ' (quick)' : ''}`);
  const tessera = await startProcess(
    'tessera',
    'dist/main.js',
    { ...serverEnv(join(work, 'a')), ...(databaseUrl ? { DATABASE_URL: databaseUrl } : {}) },
    '/health/ready',
  );
  const peer = await startProcess(
    'stateless-peer',
    'bench/stateless-peer.mjs',
    { PUBLIC_KEY_FILE: publicKeyFile, JWT_ISSUER: 'tessera', JWT_AUDIENCE: 'tessera-api' },
    '/users/me',
  );
  const email = await newUser(tessera.base);
  const { accessToken } = await nativeLogin(tessera.base, email);
  const bearer = { authorization: `Bearer ${accessToken}` };

  // Interleaved, round by round, so a noisy neighbour hits all three alike; ratios are per round.
  const compared = {
    public: { url: `${tessera.base}/health/live` },
    me: { url: `${tessera.base}/users/me`, headers: bearer },
    'stateless-peer': { url: `${peer.base}/users/me`, headers: bearer },
  };
  Object.assign(results.scenarios, await measureInterleaved(Object.fromEntries(Object.entries(compared).filter(([name]) => want(name)))));

  if (want('me-fixed-rate')) {
    // p99 at a fixed 5,000 req/s (autocannon corrects for coordinated omission).
    const result = await cannon({ url: `${tessera.base}/users/me`, headers: bearer, overallRate: 5000, duration: quick ? 2 : 10 });
    if (result.non2xx > 0) throw new Error(`me-fixed-rate: ${result.non2xx} non-2xx`);
    results.scenarios['me-fixed-rate'] = { rps: Math.round(result.requests.average), p50: result.latency.p50, p99: result.latency.p99 };
    console.error(`  me @5000/s: p50 ${result.latency.p50} ms, p99 ${result.latency.p99} ms`);
  }

  if (want('cpu')) results.cpu = await cpuPerRequest(tessera, { public: compared.public, me: compared.me });

  if (want('refresh')) results.scenarios.refresh = await refreshScenario(tessera, 'refresh');

  if (want('login')) {
    // Bounded by argon2id by design (about 13 ms of CPU each): reported, not tuned down.
    const users = [];
    for (let i = 0; i < 8; i++) users.push(await newUser(tessera.base));
    let n = 0;
    results.scenarios.login = await measure('login', {
      url: `${tessera.base}/auth/login`,
      connections: 8,
      requests: [
        {
          method: 'POST',
          headers: { 'content-type': 'application/json' },
          setupRequest: (request) => ({
            ...request,
            body: JSON.stringify({ email: users[n++ % users.length], password: PASSWORD, client: 'native' }),
          }),
        },
      ],
    });
  }

  if (want('revocation')) results.revocation = await revocationLatency(tessera, email);
  if (want('memory')) results.memory = await memoryPerSession();
  if (want('sessions-1m'))
    results.scenarios['sessions-1m'] = await withManySessions(quick ? 20_000 : 1_000_000, () =>
      measure('sessions-1m', { url: `${tessera.base}/users/me`, headers: bearer }),
    );

  if (want('downstream')) results.downstream = await downstreamScenarios(tessera);
  if (cluster) results.cluster = await clusterScenarios(compared.me);

  report();
} finally {
  await shutdown();
}

/**
 * --cluster: two Tessera instances on a local 3-master Redis Cluster (one replica each). `me` on
 * each instance, in turn, round by round with `me` on the single-node server (so the ratios are
 * per round); `refresh` on instance A; revocation on A seen by B. Rows are labelled `cluster: …`.
 */
async function clusterScenarios(singleNodeMe) {
  const { startCluster } = await import('./redis-cluster.mjs');
  console.error('cluster: starting 3 masters + 3 replicas from redis-server…');
  localCluster = await startCluster();
  const clusterEnv = (dir) => ({
    ...serverEnv(join(work, dir)),
    ...(databaseUrl ? { DATABASE_URL: databaseUrl } : {}),
    REDIS_URL: undefined,
    REDIS_CLUSTER_NODES: localCluster.nodes,
  });
  const a = await startProcess('tessera-cluster-a', 'dist/main.js', clusterEnv('ca'), '/health/ready');
  const b = await startProcess('tessera-cluster-b', 'dist/main.js', clusterEnv('cb'), '/health/ready');
  const email = await newUser(a.base);
  const { accessToken } = await nativeLogin(a.base, email);
  const bearer = { authorization: `Bearer ${accessToken}` };
  const out = { redisNodes: localCluster.ports.length, instances: 2, scenarios: {} };
  if (want('me')) {
    const rows = await measureInterleaved({
      'me (one node, paired)': singleNodeMe,
      'cluster: me (instance A)': { url: `${a.base}/users/me`, headers: bearer },
      'cluster: me (instance B)': { url: `${b.base}/users/me`, headers: bearer },
    });
    Object.assign(out.scenarios, rows);
    const one = rows['me (one node, paired)'].runs;
    const perRound = (name) => +median(rows[name].runs.map((x, i) => x / one[i])).toFixed(2);
    out.ratios = {
      'cluster me (A) / me (one node)': perRound('cluster: me (instance A)'),
      'cluster me (B) / me (one node)': perRound('cluster: me (instance B)'),
    };
  }
  if (want('refresh')) out.scenarios['cluster: refresh (instance A)'] = await refreshScenario(a, 'cluster: refresh (instance A)');
  if (want('revocation')) out.revocation = await revocationLatency(a, email, b, 'cluster: revocation A→B');
  return out;
}

/**
 * The example downstream service (examples/downstream, protected by @tessera/verifier): its
 * /protected against its /public (local verification should cost almost nothing), the same route
 * protected by RFC 7662 introspection (one call to Tessera per request), and how long after a
 * logout on Tessera each of DOWNSTREAMS services following the feed refuses the token.
 */
async function downstreamScenarios(tessera) {
  const DOWNSTREAMS = quick ? 3 : 10;
  const downstreamEnv = { TESSERA_URL: tessera.base, TESSERA_CLIENT: `bench-downstream:${serverSecret}`, NODE_ENV: 'production' };
  const services = [];
  for (let i = 0; i < DOWNSTREAMS; i++)
    services.push(await startProcess(`downstream-${i}`, 'examples/downstream/dist/main.js', downstreamEnv, '/public', 'DOWNSTREAM_PORT'));
  const introspecting = await startProcess('introspecting-service', 'bench/introspecting-service.mjs', downstreamEnv, '/protected');
  const email = await newUser(tessera.base);
  const { accessToken } = await nativeLogin(tessera.base, email);
  const bearer = { authorization: `Bearer ${accessToken}` };
  const [first] = services;
  // Followers must have caught up with the feed before they serve: wait for the first 200.
  for (const service of services) {
    for (let i = 0; (await fetch(`${service.base}/protected`, { headers: bearer })).status !== 200; i++) {
      if (i > 200) throw new Error('a downstream service never accepted a live token');
      await sleep(50);
    }
  }
  const out = {
    downstreams: DOWNSTREAMS,
    scenarios: await measureInterleaved({
      'downstream: public': { url: `${first.base}/public` },
      'downstream: protected': { url: `${first.base}/protected`, headers: bearer },
      'downstream: protected by introspection': { url: `${introspecting.base}/protected`, headers: bearer },
    }),
  };
  const rounds = (name) => out.scenarios[name].runs;
  const perRound = (a, b) => +median(rounds(a).map((x, i) => x / rounds(b)[i])).toFixed(2);
  out.ratios = {
    'downstream protected / public': perRound('downstream: protected', 'downstream: public'),
    'introspection protected / public': perRound('downstream: protected by introspection', 'downstream: public'),
  };
  introspecting.child.kill('SIGTERM');

  // Logout on Tessera → the next request to every follower is refused. Each sample: one follower's delay.
  const samples = [];
  for (let i = 0; i < (quick ? 3 : 20); i++) {
    const { accessToken: token } = await nativeLogin(tessera.base, email);
    const headers = { authorization: `Bearer ${token}` };
    for (const service of services) {
      for (let j = 0; (await fetch(`${service.base}/protected`, { headers })).status !== 200; j++) {
        if (j > 100) throw new Error('a downstream service refused a live token');
        await sleep(10);
      }
    }
    await json(tessera.base, '/auth/logout', { method: 'POST', token });
    const ended = performance.now();
    await Promise.all(
      services.map(async (service) => {
        for (;;) {
          const { status } = await fetch(`${service.base}/protected`, { headers });
          if (status === 401) return samples.push(performance.now() - ended);
          if (performance.now() - ended > 5000) throw new Error('a downstream service still accepts a revoked session after 5 s');
        }
      }),
    );
  }
  const sorted = [...samples].sort((a, b) => a - b);
  out.revocation = {
    samples: samples.length,
    medianMs: +median(samples).toFixed(2),
    p99Ms: +sorted[Math.min(sorted.length - 1, Math.ceil(sorted.length * 0.99) - 1)].toFixed(2),
    maxMs: +sorted[sorted.length - 1].toFixed(2),
  };
  console.error(
    `  logout → refused by ${DOWNSTREAMS} downstream services: median ${out.revocation.medianMs} ms, p99 ${out.revocation.p99Ms} ms, max ${out.revocation.maxMs} ms`,
  );
  for (const service of services) service.child.kill('SIGTERM');
  return out;
}

/** 16 connections rotating refresh chains on one server (its own 32 users). */
async function refreshScenario(server, name) {
  // 16 connections rotating refresh chains (native clients: the token travels in the body). A chain
  // is held by one request at a time, as one client holds its own token: autocannon clears a
  // connection's context after every request, so the chain is taken from a free list rather than
  // pinned to a connection, and handed back with its successor. Chains whose answer was cut off at
  // the end of a run are freed before the next run and present their last token again, which the
  // grace window answers with the same successor.
  const chains = [];
  for (let i = 0; i < 32; i++) chains.push((await nativeLogin(server.base, await newUser(server.base))).refreshToken);
  const busy = new Set();
  const refreshFailures = new Map();
  process.on('exit', () => refreshFailures.size && console.error(`${name} failures:`, Object.fromEntries(refreshFailures)));
  return measure(name, {
    url: `${server.base}/auth/refresh`,
    connections: 16,
    beforeRun: () => busy.clear(),
    requests: [
      {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        setupRequest: (request, context) => {
          context.chain = chains.findIndex((_, i) => !busy.has(i));
          busy.add(context.chain);
          return { ...request, body: JSON.stringify({ refreshToken: chains[context.chain] }) };
        },
        onResponse: (status, body, context) => {
          busy.delete(context.chain);
          if (status === 200) chains[context.chain] = JSON.parse(body).refreshToken;
          else {
            const key = `${status} ${JSON.parse(body).code}`;
            refreshFailures.set(key, (refreshFailures.get(key) ?? 0) + 1);
          }
        },
      },
    ],
  });
}

/**
 * The server's own CPU (user + system, from /proc) per request at a fixed 4,000 req/s: unlike
 * req/s at saturation, it does not depend on how much CPU the load generator takes on this box.
 */
async function cpuPerRequest(server, scenarios) {
  const statOf = () => {
    try {
      const fields = readFileSync(`/proc/${server.child.pid}/stat`, 'utf8').split(') ')[1].split(' ');
      return (Number(fields[11]) + Number(fields[12])) * (1e6 / 100); // clock ticks → µs (USER_HZ 100)
    } catch {
      return undefined;
    }
  };
  const rows = {};
  for (const [name, options] of Object.entries(scenarios)) {
    const samples = [];
    for (let i = 0; i < (quick ? 1 : 3); i++) {
      const before = statOf();
      const result = await cannon({ ...options, connections: 16, overallRate: 4000, duration: quick ? 2 : 5 });
      const after = statOf();
      if (before === undefined || after === undefined) return undefined;
      samples.push((after - before) / result.requests.total);
    }
    rows[name] = Math.round(median(samples));
  }
  console.error(
    `  CPU per request at 4,000 req/s: ${Object.entries(rows)
      .map(([k, v]) => `${k} ${v} µs`)
      .join(', ')}`,
  );
  return rows;
}

// A revocation on one instance, seen by another: logout on A, then poll B until it refuses.
// Starts its own B unless one is given (the cluster's second instance), and stops only its own.
async function revocationLatency(a, email, given, label = 'revocation A→B') {
  const b =
    given ??
    (await startProcess(
      'tessera-b',
      'dist/main.js',
      { ...serverEnv(join(work, 'b')), ...(databaseUrl ? { DATABASE_URL: databaseUrl } : {}) },
      '/health/ready',
    ));
  const samples = [];
  for (let i = 0; i < (quick ? 3 : 20); i++) {
    const { accessToken: token } = await nativeLogin(a.base, email);
    // B has answered for this token before (so any cache of B's is warm), then A ends the session.
    if ((await json(b.base, '/auth/sessions', { token })).status !== 200) throw new Error('B refused a live session');
    await json(a.base, '/auth/logout', { method: 'POST', token });
    const ended = performance.now();
    for (;;) {
      const { status } = await json(b.base, '/auth/sessions', { token });
      if (status === 401) break;
      if (performance.now() - ended > 5000) throw new Error('B still accepts a revoked session after 5 s');
    }
    samples.push(performance.now() - ended);
  }
  if (!given) b.child.kill('SIGTERM');
  const row = { medianMs: +median(samples).toFixed(2), maxMs: +Math.max(...samples).toFixed(2), samples: samples.length };
  console.error(`  ${label}: median ${row.medianMs} ms, max ${row.maxMs} ms`);
  return row;
}

/** Tessera's own store and token helpers, from the build, so the bench writes exactly what the app writes. */
async function storeModules() {
  const { RedisService } = await import('../dist/redis/redis.service.js');
  const { RedisSessionStore, sessionKey } = await import('../dist/auth/sessions/redis-session.store.js');
  const { RedisRevocationLog } = await import('../dist/revocations/revocation-log.js');
  const tokens = await import('../dist/auth/tokens/refresh-token.js');
  const { ServerSecrets } = await import('../dist/secrets/server-secrets.js');
  const secrets = new ServerSecrets([Buffer.from(serverSecret, 'hex')]);
  // No client-side caching here: its tracking table in Redis would be counted as session memory.
  const redis = new RedisService({ url: process.env.REDIS_URL, commandTimeoutMs: 30_000, clientCacheEntries: 0 });
  await redis.connect();
  return {
    redis,
    // As the app builds it; the bench ends no session, so its revocation events are never written.
    store: new RedisSessionStore(redis, new RedisRevocationLog(redis, 60_000), (now) => Math.floor(now / 1000) + 905, 5),
    tokens,
    sessionKey,
    sealer: new tokens.SuccessorSealer(secrets),
    codec: new tokens.RefreshTokenCodec(secrets),
  };
}

/** Sessions written through Tessera's own store (its Lua scripts), one user each, realistic fields. */
function sessionFor(tokens, i, now) {
  return {
    id: tokens.newSessionId(),
    userId: randomUUID(),
    createdAt: now,
    lastUsedAt: now,
    expiresAt: now + 7 * 86400_000,
    absoluteExpiresAt: now + 30 * 86400_000,
    userAgent: USER_AGENT,
    ip: `203.0.${(i >> 8) & 255}.${i & 255}`,
    refreshHash: tokens.hashSecret(tokens.newSecret()),
    // How the user proved who they are, as a password login stores it.
    authTime: now,
    amr: ['pwd'],
    acr: 'urn:tessera:aal1',
  };
}

async function inBatches(items, size, fn) {
  for (let i = 0; i < items.length; i += size) await Promise.all(items.slice(i, i + size).map(fn));
}

async function usedMemory(client) {
  const info = await client.info('memory');
  return Number(/used_memory:(\d+)/.exec(info)[1]);
}

// Redis used_memory growth per live session, after one rotation each.
async function memoryPerSession() {
  const n = quick ? 2_000 : 20_000;
  const { redis, store, tokens, sessionKey, sealer, codec } = await storeModules();
  const now = Date.now();
  const sessions = Array.from({ length: n }, (_, i) => sessionFor(tokens, i, now));
  const before = await usedMemory(redis.client);
  await inBatches(sessions, 500, (s) => store.create(s, 10, now));
  await inBatches(sessions, 500, (s) =>
    store.rotate({
      userId: s.userId,
      sessionId: s.id,
      generation: 0,
      presentedHash: s.refreshHash,
      nextHash: tokens.hashSecret(tokens.newSecret()),
      sealedSuccessor: sealer.seal(codec.mint(s.userId, s.id, 1).token, s.id),
      now,
      idleTtlMs: 7 * 86400_000,
      graceMs: 1000,
    }),
  );
  const withGrace = await usedMemory(redis.client);
  await sleep(1500); // the grace copies (1 s here) have expired…
  await inBatches(sessions, 500, (s) => redis.client.exists(`${sessionKey(s.userId, s.id)}:g`)); // …and touching them frees them now
  const steady = await usedMemory(redis.client);
  await inBatches(sessions, 500, (s) => store.revoke(s.userId, s.id));
  await redis.close();
  const row = {
    sessions: n,
    bytesPerSession: Math.round((steady - before) / n),
    bytesPerSessionInGraceWindow: Math.round((withGrace - before) / n),
  };
  console.error(`  memory: ${row.bytesPerSession} B/session (${row.bytesPerSessionInGraceWindow} B inside the grace window)`);
  return row;
}

async function withManySessions(n, run) {
  const { redis, store, tokens } = await storeModules();
  const now = Date.now();
  console.error(`  sessions-1m: writing ${n} sessions…`);
  const sessions = [];
  for (let i = 0; i < n; i += 10_000) {
    const batch = Array.from({ length: Math.min(10_000, n - i) }, (_, j) => sessionFor(tokens, i + j, now));
    await inBatches(batch, 1000, (s) => store.create(s, 10, now));
    sessions.push(...batch);
  }
  try {
    return await run();
  } finally {
    console.error('  sessions-1m: cleaning up…');
    await inBatches(sessions, 1000, (s) => store.revoke(s.userId, s.id));
    await redis.close();
  }
}

function report() {
  const s = results.scenarios;
  // Median of the per-round ratios where both were measured round by round, else of the medians.
  const ratio = (a, b) => {
    if (!s[a] || !s[b]) return undefined;
    const paired = s[a].runs.length === s[b].runs.length && s[a].runs.length > 1 && a !== 'refresh' && a !== 'sessions-1m';
    const value = paired ? median(s[a].runs.map((x, i) => x / s[b].runs[i])) : s[a].rps / s[b].rps;
    return +value.toFixed(2);
  };
  results.ratios = {
    'me / public': ratio('me', 'public'),
    'me / stateless-peer': ratio('me', 'stateless-peer'),
    'refresh / public': ratio('refresh', 'public'),
    'sessions-1m / me': ratio('sessions-1m', 'me'),
  };
  const check = (value, ok) => (value === undefined ? 'not run' : ok(value) ? 'met' : 'MISSED');
  results.targets = {
    'me / public ≥ 0.90': check(results.ratios['me / public'], (v) => v >= 0.9),
    'me / stateless-peer ≥ 5': check(results.ratios['me / stateless-peer'], (v) => v >= 5),
    'refresh / public ≥ 0.25': check(results.ratios['refresh / public'], (v) => v >= 0.25),
    'p99 of me ≤ 5 ms at 5,000 req/s': check(s['me-fixed-rate']?.p99, (v) => v <= 5),
    '≤ 600 B of Redis per session': check(results.memory?.bytesPerSession, (v) => v <= 600),
    'sessions-1m within 5 % of me': check(results.ratios['sessions-1m / me'], (v) => v >= 0.95),
    'revocation seen by another instance ≤ 50 ms': check(results.revocation?.maxMs, (v) => v <= 50),
  };
  const d = results.downstream;
  if (d) {
    results.targets['downstream /protected / /public ≥ 0.90'] = check(d.ratios['downstream protected / public'], (v) => v >= 0.9);
    results.targets['logout → refused downstream (10 followers) ≤ 50 ms at p99'] = check(d.revocation.p99Ms, (v) => v <= 50);
  }
  const c = results.cluster;
  if (c) {
    const perInstance = c.ratios && Math.min(...Object.values(c.ratios));
    results.targets['cluster: me per instance ≥ 0.90 × me on one node'] = check(perInstance, (v) => v >= 0.9);
    results.targets['cluster: revocation A→B ≤ 50 ms'] = check(c.revocation?.maxMs, (v) => v <= 50);
  }
  results.machine = {
    cpu: cpus()[0]?.model,
    cores: cpus().length,
    memoryGiB: Math.round(totalmem() / 2 ** 30),
    node: process.version,
    database: databaseUrl ? 'postgres' : 'pglite',
  };
  results.date = new Date().toISOString();
  results.settings = { runs: RUNS, durationSeconds: DURATION, connections: CONNECTIONS, quick };

  const table = Object.entries({ ...s, ...d?.scenarios, ...c?.scenarios }).map(([name, r]) => ({
    scenario: name,
    'req/s (median)': r.rps,
    'p50 ms': r.p50,
    'p99 ms': r.p99,
  }));
  console.log('\n' + formatTable(table));
  console.log(
    '\n' +
      formatTable(
        Object.entries({ ...results.ratios, ...d?.ratios, ...c?.ratios })
          .filter(([, v]) => v !== undefined)
          .map(([k, v]) => ({ ratio: k, value: v })),
      ),
  );
  if (results.memory)
    console.log(
      `\nRedis memory: ${results.memory.bytesPerSession} B per live session after one rotation (${results.memory.bytesPerSessionInGraceWindow} B while the grace copy lives)`,
    );
  if (results.cpu)
    console.log(
      `Server CPU per request at a fixed 4,000 req/s: ${Object.entries(results.cpu)
        .map(([k, v]) => `${k} ${v} µs`)
        .join(', ')}`,
    );
  if (results.revocation)
    console.log(
      `Revocation on A seen by B: median ${results.revocation.medianMs} ms, max ${results.revocation.maxMs} ms (${results.revocation.samples} samples)`,
    );
  if (d)
    console.log(
      `Logout on Tessera → refused by ${d.downstreams} downstream services following the feed: median ${d.revocation.medianMs} ms, p99 ${d.revocation.p99Ms} ms, max ${d.revocation.maxMs} ms (${d.revocation.samples} samples)`,
    );
  if (c?.revocation)
    console.log(
      `Cluster (3 masters + 3 replicas, 2 instances): revocation on A seen by B: median ${c.revocation.medianMs} ms, max ${c.revocation.maxMs} ms (${c.revocation.samples} samples)`,
    );
  if (
    c &&
    (results.targets['cluster: me per instance ≥ 0.90 × me on one node'] === 'MISSED' ||
      results.targets['cluster: revocation A→B ≤ 50 ms'] === 'MISSED')
  )
    console.log(
      `Cluster target missed on ${cores()} core(s) with six redis-server processes, two cluster instances, the single-node server and the load generator on the same box: figures above, plainly (noisy here).`,
    );
  console.log(
    '\n' +
      formatTable(Object.entries(results.targets).map(([k, v]) => ({ target: k, result: quick ? `${v} (not asserted in --quick)` : v }))),
  );
  writeFileSync(join(root, 'bench', 'results.json'), JSON.stringify(results, null, 2) + '\n');
  console.log('\nwritten: bench/results.json');
}

function cores() {
  return cpus().length;
}

function formatTable(rows) {
  if (rows.length === 0) return '';
  const columns = Object.keys(rows[0]);
  const width = columns.map((c) => Math.max(c.length, ...rows.map((r) => String(r[c]).length)));
  const line = (cells) => '| ' + cells.map((cell, i) => String(cell).padEnd(width[i])).join(' | ') + ' |';
  return [line(columns), line(width.map((w) => '-'.repeat(w))), ...rows.map((r) => line(columns.map((c) => r[c])))].join('\n');
}
