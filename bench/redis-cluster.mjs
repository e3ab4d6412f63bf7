// A local 3-master Redis Cluster with one replica each, for `npm run bench -- --cluster`, started
// from the `redis-server` binary (no Docker), like test/support/redis-topologies.ts: free ports, a
// temporary directory, every process killed on stop (and when the bench exits); never port 6379.
import { execFile, spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';

const run = promisify(execFile);
const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

const live = new Set();
process.once('exit', () => {
  for (const child of live) child.kill('SIGKILL');
});

function portFree(port) {
  return new Promise((resolve) => {
    const server = createServer();
    server.unref();
    server.once('error', () => resolve(false));
    server.listen(port, '127.0.0.1', () => server.close(() => resolve(true)));
  });
}

function anyPort() {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.unref();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address();
      server.close(() => resolve(port));
    });
  });
}

/** n distinct free ports, each with port+10000 free too (a cluster node's bus port); never 6379. */
async function freePorts(n) {
  const ports = new Set();
  while (ports.size < n) {
    const port = await anyPort();
    if (port < 55535 && port !== 6379 && port !== 16379 && (await portFree(port + 10000))) ports.add(port);
  }
  return [...ports];
}

const cli = (port, ...args) => run('redis-cli', ['-p', String(port), ...args]).then((r) => r.stdout.trim());

async function until(what, check, timeoutMs = 20_000) {
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

/** Starts the cluster; resolves to { ports, nodes (REDIS_CLUSTER_NODES), stop() }. */
export async function startCluster({ nodeTimeoutMs = 5000 } = {}) {
  const dir = mkdtempSync(join(tmpdir(), 'tessera-bench-cluster-'));
  const ports = await freePorts(6);
  const procs = [];
  const stop = async () => {
    await Promise.all(
      procs.map(
        (child) =>
          new Promise((resolve) => {
            if (child.exitCode !== null || child.signalCode !== null) return resolve();
            child.once('exit', () => resolve());
            child.kill('SIGKILL');
          }),
      ),
    );
    rmSync(dir, { recursive: true, force: true });
  };
  try {
    for (const port of ports) {
      const nodeDir = join(dir, String(port));
      mkdirSync(nodeDir);
      const child = spawn(
        'redis-server',
        [
          '--port',
          String(port),
          '--bind',
          '127.0.0.1',
          '--dir',
          nodeDir,
          '--save',
          '',
          '--appendonly',
          'no',
          '--repl-diskless-sync-delay',
          '0',
          '--cluster-enabled',
          'yes',
          '--cluster-config-file',
          'nodes.conf',
          '--cluster-node-timeout',
          String(nodeTimeoutMs),
        ],
        { stdio: 'ignore' },
      );
      live.add(child);
      child.once('exit', () => live.delete(child));
      procs.push(child);
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
    await stop();
    throw error;
  }
  return { ports, nodes: ports.map((p) => `redis://127.0.0.1:${p}`).join(','), stop };
}
