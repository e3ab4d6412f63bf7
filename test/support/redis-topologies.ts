/**
 * Real local Redis topologies for tests, started from the `redis-server` binary (no Docker): a
 * 3-master Redis Cluster with one replica each, and a Sentinel group (a primary, a replica, three
 * sentinels). Free ports, a temporary directory, child processes killed on teardown (and when the
 * test process exits); port 6379 is never used. Optionally with passwords (an ACL user) and TLS only
 * (see `RedisSecurity`).
 */
import { type ChildProcess, execFile, execFileSync, spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';

const run = promisify(execFile);
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** Whether `redis-server` and `redis-cli` are on PATH (the topology suites need them). */
export function haveRedisServer(): boolean {
  try {
    execFileSync('redis-server', ['--version'], { stdio: 'ignore' });
    execFileSync('redis-cli', ['--version'], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

const live = new Set<ChildProcess>();
process.once('exit', () => {
  for (const child of live) child.kill('SIGKILL');
});

function portFree(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const server = createServer();
    server.unref();
    server.once('error', () => resolve(false));
    server.listen(port, '127.0.0.1', () => server.close(() => resolve(true)));
  });
}

async function anyPort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.unref();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolve(port));
    });
  });
}

/** n distinct free ports, each with port+10000 free too (a cluster node's bus port); never 6379. */
export async function freePorts(n: number): Promise<number[]> {
  const ports = new Set<number>();
  while (ports.size < n) {
    const port = await anyPort();
    if (port < 55535 && port !== 6379 && (await portFree(port + 10000))) ports.add(port);
  }
  return [...ports];
}

export const cli = (port: number, ...args: string[]) => run('redis-cli', ['-p', String(port), ...args]).then((r) => r.stdout.trim());

/**
 * Credentials and TLS for a local topology; none of them by default. The harness's own redis-cli
 * calls use them (the `cli` of the returned topology).
 */
export interface RedisSecurity {
  /** The data nodes' ACL user (the `default` user is switched off); needs `password`. */
  username?: string;
  /** The data nodes' password (`requirepass`, or the ACL user's); replication authenticates with it. */
  password?: string;
  /** The sentinels' own `requirepass`. */
  sentinelPassword?: string;
  /**
   * TLS only (`--port 0`): a throwaway CA and a server certificate for 127.0.0.1/localhost are made
   * in the temporary directory; replication, the cluster bus and the sentinels use TLS too. Clients
   * need no certificate of their own (`tls-auth-clients no`).
   */
  tls?: boolean;
}

/** The CA (for clients) and the server's certificate and key, made with the openssl CLI. */
interface Certificates {
  ca: string;
  cert: string;
  key: string;
}

async function makeCertificates(dir: string): Promise<Certificates> {
  const file = (name: string) => join(dir, name);
  const ec = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes'];
  await run('openssl', [
    'req',
    '-x509',
    ...ec,
    '-keyout',
    file('ca.key'),
    '-out',
    file('ca.crt'),
    '-days',
    '2',
    '-subj',
    '/CN=Tessera test CA',
  ]);
  await run('openssl', ['req', ...ec, '-keyout', file('server.key'), '-out', file('server.csr'), '-subj', '/CN=localhost']);
  writeFileSync(file('server.ext'), 'subjectAltName=IP:127.0.0.1,DNS:localhost\n');
  await run('openssl', [
    'x509',
    '-req',
    '-in',
    file('server.csr'),
    '-CA',
    file('ca.crt'),
    '-CAkey',
    file('ca.key'),
    '-CAcreateserial',
    '-out',
    file('server.crt'),
    '-days',
    '2',
    '-extfile',
    file('server.ext'),
  ]);
  return { ca: file('ca.crt'), cert: file('server.crt'), key: file('server.key') };
}

/** With `tls`: certificates in `dir` (removed with it); the directory is removed if making them fails. */
async function certificatesFor(security: RedisSecurity, dir: string): Promise<Certificates | undefined> {
  if (!security.tls) return undefined;
  try {
    return await makeCertificates(dir);
  } catch (error) {
    rmSync(dir, { recursive: true, force: true });
    throw error;
  }
}

/** redis-cli with the data nodes' (or the sentinels') password and TLS. */
function cliWith(certs: Certificates | undefined, user: string | undefined, password: string | undefined) {
  const extra = [
    ...(certs ? ['--tls', '--cacert', certs.ca] : []),
    ...(user ? ['--user', user] : []),
    ...(password ? ['--pass', password, '--no-auth-warning'] : []),
  ];
  return {
    extra,
    cli: (port: number, ...args: string[]) => run('redis-cli', ['-p', String(port), ...extra, ...args]).then((r) => r.stdout.trim()),
  };
}

/** Server arguments for the listening port, TLS and the data nodes' credentials. */
function serverSecurity(port: number, certs: Certificates | undefined, security: RedisSecurity): string[] {
  const { username, password } = security;
  if (username && !password) throw new Error('an ACL user needs a password');
  const tls = certs
    ? [
        '--port',
        '0',
        '--tls-port',
        String(port),
        '--tls-cert-file',
        certs.cert,
        '--tls-key-file',
        certs.key,
        '--tls-ca-cert-file',
        certs.ca,
        '--tls-auth-clients',
        'no',
        '--tls-replication',
        'yes',
      ]
    : ['--port', String(port)];
  const auth = !password
    ? []
    : username
      ? [
          '--user',
          'default',
          'off',
          '--user',
          username,
          'on',
          `>${password}`,
          '~*',
          '&*',
          '+@all',
          '--masteruser',
          username,
          '--masterauth',
          password,
        ]
      : ['--requirepass', password, '--masterauth', password];
  return [...tls, ...auth];
}

/** Polls `check` until it holds (errors count as "not yet"); fails after `timeoutMs`. */
export async function until(what: string, check: () => Promise<boolean> | boolean, timeoutMs = 20_000): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (Date.now() < end) {
    try {
      if (await check()) return;
    } catch {
      // not yet
    }
    await sleep(50);
  }
  throw new Error(`timed out waiting for ${what}`);
}

/** `args` start with the port arguments (see serverSecurity). */
function startServer(dir: string, args: string[]): ChildProcess {
  const child = spawn(
    'redis-server',
    [
      '--bind',
      '127.0.0.1',
      '--dir',
      dir,
      '--save',
      '',
      '--appendonly',
      'no',
      // The default 5 s delays every replica's first sync.
      '--repl-diskless-sync-delay',
      '0',
      ...args,
    ],
    { stdio: 'ignore' },
  );
  live.add(child);
  child.once('exit', () => live.delete(child));
  return child;
}

async function stopAll(procs: Map<number, ChildProcess>, dir: string): Promise<void> {
  await Promise.all(
    [...procs.values()].map(
      (child) =>
        new Promise<void>((resolve) => {
          if (child.exitCode !== null || child.signalCode !== null) return resolve();
          child.once('exit', () => resolve());
          child.kill('SIGKILL');
        }),
    ),
  );
  rmSync(dir, { recursive: true, force: true });
}

export interface LocalCluster {
  ports: number[];
  /** REDIS_CLUSTER_NODES for the app (`redis://` URLs, also with TLS: set REDIS_TLS). */
  nodes: string;
  /** The CA that signed the nodes' certificate (with `tls`), for REDIS_TLS_CA_FILE. */
  caFile?: string;
  /** redis-cli on one node, with the topology's password and TLS. */
  cli: (port: number, ...args: string[]) => Promise<string>;
  /** The port of the master that serves `key` now (as the cluster itself says). */
  masterOf: (key: string) => Promise<number>;
  masters: () => Promise<number[]>;
  /** The port of the replica of the master on `port`. */
  replicaOf: (port: number) => Promise<number>;
  kill: (port: number, signal?: NodeJS.Signals) => void;
  stop: () => Promise<void>;
}

export async function startCluster({
  nodeTimeoutMs = 1000,
  /** Redis's `cluster-require-full-coverage`: with `false` the cluster keeps serving the slots it covers while a shard is down. */
  requireFullCoverage = true,
  ...security
}: { nodeTimeoutMs?: number; requireFullCoverage?: boolean } & RedisSecurity = {}): Promise<LocalCluster> {
  const dir = mkdtempSync(join(tmpdir(), 'tessera-cluster-'));
  const ports = await freePorts(6);
  const procs = new Map<number, ChildProcess>();
  const certs = await certificatesFor(security, dir);
  const { cli, extra } = cliWith(certs, security.username, security.password);
  const args = [
    '--cluster-enabled',
    'yes',
    '--cluster-config-file',
    'nodes.conf',
    '--cluster-node-timeout',
    String(nodeTimeoutMs),
    '--cluster-require-full-coverage',
    requireFullCoverage ? 'yes' : 'no',
    // The cluster bus has no password in Redis 7.0; with TLS it is encrypted like everything else.
    ...(certs ? ['--tls-cluster', 'yes'] : []),
  ];
  try {
    for (const port of ports) {
      mkdirSync(join(dir, String(port)));
      procs.set(port, startServer(join(dir, String(port)), [...serverSecurity(port, certs, security), ...args]));
    }
    for (const port of ports) await until(`node ${port}`, async () => (await cli(port, 'ping')) === 'PONG');
    await run('redis-cli', [
      '--cluster',
      'create',
      ...ports.map((p) => `127.0.0.1:${p}`),
      '--cluster-replicas',
      '1',
      '--cluster-yes',
      ...extra,
    ]);
    for (const port of ports)
      await until(`cluster_state:ok on ${port}`, async () => (await cli(port, 'cluster', 'info')).includes('cluster_state:ok'));
    await until(
      '3 replicas in sync',
      async () =>
        (await Promise.all(ports.map((p) => cli(p, 'info', 'replication')))).filter((i) => i.includes('master_link_status:up')).length ===
        3,
    );
  } catch (error) {
    await stopAll(procs, dir);
    throw error;
  }
  const alive = () => ports.find((p) => procs.get(p)?.exitCode === null && procs.get(p)?.signalCode === null) ?? ports[0];
  const masterLines = async () =>
    (await cli(alive(), 'cluster', 'nodes'))
      .split('\n')
      .map((line) => line.split(' '))
      .filter((f) => f[2]?.includes('master') && !f[2].includes('fail'));
  const portOf = (field: string) => Number(field.split(':')[1].split('@')[0]);
  return {
    ports,
    nodes: ports.map((p) => `redis://127.0.0.1:${p}`).join(','),
    caFile: certs?.ca,
    cli,
    masterOf: async (key: string) => {
      const slot = Number(await cli(alive(), 'cluster', 'keyslot', key));
      for (const f of await masterLines()) {
        for (const range of f.slice(8)) {
          const [a, b = a] = range.split('-').map(Number);
          if (slot >= a && slot <= b) return portOf(f[1]);
        }
      }
      return 0;
    },
    masters: async () => (await masterLines()).filter((f) => f.length > 8).map((f) => portOf(f[1])),
    replicaOf: async (port: number) => {
      const lines = (await cli(alive(), 'cluster', 'nodes')).split('\n').map((line) => line.split(' '));
      const id = lines.find((f) => f[1] && portOf(f[1]) === port)?.[0];
      const replica = lines.find((f) => f[2]?.includes('slave') && f[3] === id);
      if (!replica) throw new Error(`no replica of ${port}`);
      return portOf(replica[1]);
    },
    kill: (port, signal = 'SIGKILL') => procs.get(port)?.kill(signal),
    stop: () => stopAll(procs, dir),
  };
}

export interface LocalSentinelGroup {
  name: string;
  primary: number;
  replica: number;
  sentinels: number[];
  /** REDIS_SENTINELS for the app. */
  addresses: string;
  /** The CA that signed every certificate (with `tls`), for REDIS_TLS_CA_FILE. */
  caFile?: string;
  /** redis-cli on a data node, with its password and TLS. */
  cli: (port: number, ...args: string[]) => Promise<string>;
  /** redis-cli on a sentinel, with the sentinels' password and TLS. */
  sentinelCli: (port: number, ...args: string[]) => Promise<string>;
  currentPrimary: () => Promise<number>;
  kill: (port: number, signal?: NodeJS.Signals) => void;
  stop: () => Promise<void>;
}

export async function startSentinelGroup({
  downAfterMs = 1000,
  failoverTimeoutMs = 5000,
  name = 'mymaster',
  /** Primary, replica and three sentinels (default: free ports), e.g. to point an app at them before they start. */
  ports = undefined,
  ...security
}: RedisSecurity & {
  downAfterMs?: number;
  failoverTimeoutMs?: number;
  name?: string;
  ports?: number[];
} = {}): Promise<LocalSentinelGroup> {
  const dir = mkdtempSync(join(tmpdir(), 'tessera-sentinel-'));
  const [primary, replica, ...sentinels] = ports ?? (await freePorts(5));
  const procs = new Map<number, ChildProcess>();
  const certs = await certificatesFor(security, dir);
  const { cli } = cliWith(certs, security.username, security.password);
  const sentinelCli = cliWith(certs, undefined, security.sentinelPassword).cli;
  const { username, password, sentinelPassword } = security;
  const sentinelSecurity = (port: number) => [
    ...(certs
      ? [
          'port 0',
          `tls-port ${port}`,
          `tls-cert-file ${certs.cert}`,
          `tls-key-file ${certs.key}`,
          `tls-ca-cert-file ${certs.ca}`,
          'tls-auth-clients no',
          // To the data nodes and the other sentinels.
          'tls-replication yes',
        ]
      : [`port ${port}`]),
    ...(password ? [`sentinel auth-pass ${name} ${password}`] : []),
    ...(username ? [`sentinel auth-user ${name} ${username}`] : []),
    // The sentinels ask each other with the same password.
    ...(sentinelPassword ? [`requirepass ${sentinelPassword}`, `sentinel sentinel-pass ${sentinelPassword}`] : []),
  ];
  try {
    for (const port of [primary, replica]) {
      mkdirSync(join(dir, String(port)));
      const role = port === replica ? ['--replicaof', '127.0.0.1', String(primary)] : [];
      procs.set(port, startServer(join(dir, String(port)), [...serverSecurity(port, certs, security), ...role]));
    }
    await until('replica in sync', async () => (await cli(replica, 'info', 'replication')).includes('master_link_status:up'));
    for (const port of sentinels) {
      const d = join(dir, String(port));
      mkdirSync(d);
      const conf = join(d, 'sentinel.conf'); // writable: Sentinel rewrites it
      writeFileSync(
        conf,
        [
          'bind 127.0.0.1',
          `dir ${d}`,
          // `sentinel monitor` first: the auth lines name the master it declares.
          `sentinel monitor ${name} 127.0.0.1 ${primary} 2`,
          ...sentinelSecurity(port),
          `sentinel down-after-milliseconds ${name} ${downAfterMs}`,
          `sentinel failover-timeout ${name} ${failoverTimeoutMs}`,
          `sentinel parallel-syncs ${name} 1`,
          '',
        ].join('\n'),
      );
      const child = spawn('redis-server', [conf, '--sentinel'], { stdio: 'ignore' });
      live.add(child);
      child.once('exit', () => live.delete(child));
      procs.set(port, child);
    }
    await until('sentinels know the replica and each other', async () => {
      for (const s of sentinels) {
        const m = (await sentinelCli(s, 'sentinel', 'master', name)).split('\n');
        const v = (k: string) => m[m.indexOf(k) + 1];
        if (v('num-slaves') !== '1' || v('num-other-sentinels') !== '2') return false;
      }
      return true;
    });
  } catch (error) {
    await stopAll(procs, dir);
    throw error;
  }
  return {
    name,
    primary,
    replica,
    sentinels,
    addresses: sentinels.map((p) => `127.0.0.1:${p}`).join(','),
    caFile: certs?.ca,
    cli,
    sentinelCli,
    currentPrimary: async () => Number((await sentinelCli(sentinels[0], 'sentinel', 'get-master-addr-by-name', name)).split('\n')[1]),
    kill: (port, signal = 'SIGKILL') => procs.get(port)?.kill(signal),
    stop: () => stopAll(procs, dir),
  };
}
