/**
 * Real local Redis topologies for tests, started from the `redis-server` binary (no Docker): a
 * 3-master Redis Cluster with one replica each, and a Sentinel group (a primary, a replica, three
 * sentinels). Free ports, a temporary directory, child processes killed on teardown (and when the
 * test process exits); port 6379 is never used.
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

function startServer(dir: string, port: number, args: string[]): ChildProcess {
  const child = spawn(
    'redis-server',
    [
      '--port',
      String(port),
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
  /** REDIS_CLUSTER_NODES for the app. */
  nodes: string;
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
} = {}): Promise<LocalCluster> {
  const dir = mkdtempSync(join(tmpdir(), 'tessera-cluster-'));
  const ports = await freePorts(6);
  const procs = new Map<number, ChildProcess>();
  const args = [
    '--cluster-enabled',
    'yes',
    '--cluster-config-file',
    'nodes.conf',
    '--cluster-node-timeout',
    String(nodeTimeoutMs),
    '--cluster-require-full-coverage',
    requireFullCoverage ? 'yes' : 'no',
  ];
  try {
    for (const port of ports) {
      mkdirSync(join(dir, String(port)));
      procs.set(port, startServer(join(dir, String(port)), port, args));
    }
    for (const port of ports) await until(`node ${port}`, async () => (await cli(port, 'ping')) === 'PONG');
    await run('redis-cli', ['--cluster', 'create', ...ports.map((p) => `127.0.0.1:${p}`), '--cluster-replicas', '1', '--cluster-yes']);
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
  currentPrimary: () => Promise<number>;
  kill: (port: number, signal?: NodeJS.Signals) => void;
  stop: () => Promise<void>;
}

export async function startSentinelGroup({
  downAfterMs = 1000,
  failoverTimeoutMs = 5000,
  name = 'mymaster',
  /** Primary, replica and three sentinels (default: free ports), e.g. to point an app at them before they start. */
  ports = undefined as number[] | undefined,
} = {}): Promise<LocalSentinelGroup> {
  const dir = mkdtempSync(join(tmpdir(), 'tessera-sentinel-'));
  const [primary, replica, ...sentinels] = ports ?? (await freePorts(5));
  const procs = new Map<number, ChildProcess>();
  try {
    for (const port of [primary, replica]) {
      mkdirSync(join(dir, String(port)));
      procs.set(port, startServer(join(dir, String(port)), port, port === replica ? ['--replicaof', '127.0.0.1', String(primary)] : []));
    }
    await until('replica in sync', async () => (await cli(replica, 'info', 'replication')).includes('master_link_status:up'));
    for (const port of sentinels) {
      const d = join(dir, String(port));
      mkdirSync(d);
      const conf = join(d, 'sentinel.conf'); // writable: Sentinel rewrites it
      writeFileSync(
        conf,
        [
          `port ${port}`,
          'bind 127.0.0.1',
          `dir ${d}`,
          `sentinel monitor ${name} 127.0.0.1 ${primary} 2`,
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
        const m = (await cli(s, 'sentinel', 'master', name)).split('\n');
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
    currentPrimary: async () => Number((await cli(sentinels[0], 'sentinel', 'get-master-addr-by-name', name)).split('\n')[1]),
    kill: (port, signal = 'SIGKILL') => procs.get(port)?.kill(signal),
    stop: () => stopAll(procs, dir),
  };
}
