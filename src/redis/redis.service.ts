import { createHash } from 'node:crypto';
import { Logger } from '@nestjs/common';
// The slot function node-redis itself routes by, so "which master owns this key" agrees with it.
import keySlot from 'cluster-key-slot';
import {
  createClient,
  MultiErrorReply,
  createCluster,
  createSentinel,
  ErrorReply,
  type RedisClientType,
  type RedisClusterType,
  type RedisSentinelType,
} from 'redis';
import { within } from '../common/deadline.js';
import { DependencyUnavailableError } from '../common/problems/dependency-error.js';

export interface LuaScript {
  source: string;
  sha: string;
}

export function luaScript(source: string): LuaScript {
  return { source, sha: createHash('sha1').update(source).digest('hex') };
}

/** Exactly one of `url`, `cluster` and `sentinel`. */
export interface RedisOptions {
  url?: string;
  /** Redis Cluster: some nodes (`redis://` or `rediss://` URLs); the rest are discovered. */
  cluster?: { nodes: string[]; tls?: boolean; username?: string; password?: string };
  /** A primary found through Redis Sentinel. */
  sentinel?: {
    sentinels: { host: string; port: number }[];
    master: string;
    tls?: boolean;
    username?: string;
    password?: string;
    sentinelPassword?: string;
  };
  /** PEM of the CA(s) the servers' certificates are checked against, for every TLS connection (default: Node's roots). */
  tlsCa?: string;
  commandTimeoutMs: number;
  /** Session writes wait (WAIT) for this many replicas before they are answered; 0: no wait. */
  waitReplicas?: number;
  /** Entries of the client-side cache (RESP3 tracking); 0 turns it off. */
  clientCacheEntries?: number;
}

/** A heartbeat every half second; no answer for this long means Redis is treated as down. */
const HEARTBEAT_MS = 500;
const HEARTBEAT_STALE_MS = 2000;
/** Time kept for a reply to travel back and be noticed before the caller's deadline (the sweeper ticks every 25 ms). */
const DEADLINE_REPLY_MARGIN_MS = 75;

/** How long a shutdown waits for the Redis connections to close. */
const CLOSE_TIMEOUT_MS = 5000;

type ClockSample = { offsetMs: number; uncertaintyMs: number };

/** Heartbeat state of one primary (cluster: one per master address; Sentinel: the current primary). */
interface PrimaryBeat {
  sentAt: number | undefined;
  /** Answered since it was last found silent or failing. */
  fresh: boolean;
  samples: ClockSample[];
}

function pushSample(samples: ClockSample[], sentAt: number, receivedAt: number, [seconds, micros]: [string, string]): void {
  const serverMs = Number(seconds) * 1000 + Number(micros) / 1000;
  samples.push({ offsetMs: serverMs - (sentAt + receivedAt) / 2, uncertaintyMs: (receivedAt - sentAt) / 2 });
  if (samples.length > 20) samples.shift();
}

function bestSample(samples: ClockSample[]): ClockSample {
  return (
    samples.reduce<ClockSample | undefined>((a, b) => (a === undefined || b.uncertaintyMs < a.uncertaintyMs ? b : a), undefined) ?? {
      offsetMs: 0,
      uncertaintyMs: 0,
    }
  );
}

/** A reply that means "this node cannot serve now" (503), not a bug in a script or command (500). */
const OUTAGE_REPLY = /^(NOSCRIPT|LOADING|BUSY|MASTERDOWN|READONLY|OOM|TRYAGAIN|CLUSTERDOWN|MOVED|ASK|NOPERM|NOREPLICAS)/;

function isNoScript(error: unknown): boolean {
  return error instanceof ErrorReply && error.message.startsWith('NOSCRIPT');
}

/** See RedisService.dedicatedConnection. */
export interface DedicatedConnection {
  /** One raw command; `key` routes it on a cluster. */
  send(key: string, args: string[]): Promise<unknown>;
  close(): void;
}

/**
 * Tessera's one Redis connection (node-redis), shared by the session store, the rate limits, the
 * cache and health checks: one node (REDIS_URL), a Redis Cluster or a primary found through
 * Sentinel. Everything else calls `run` and `eval` and works on all three unchanged; only keyed
 * commands may be used through `run` (a cluster routes them by key).
 *
 * - Client-side caching (RESP3 tracking): reads such as the per-request `HGET` on a session are
 *   answered from memory, and Redis pushes an invalidation the moment any instance changes the
 *   key; so a live session costs no round trip, and a revocation still lands at once everywhere.
 *   On a cluster every node connection tracks its own keys (one shared cache). node-redis drops
 *   the whole cache when a connection errors or closes, and so does the heartbeat below.
 * - Fail closed: every call is bounded by `commandTimeoutMs` (node-redis only times out commands
 *   not yet written, and a frozen server never answers written ones), and a heartbeat on every
 *   primary the instance talks to marks Redis down when one stops answering, so nothing is served
 *   from memory while a primary cannot be heard. Failures surface as DependencyUnavailableError (503).
 * - Failover: node-redis's cluster client never re-reads the slot map after a master dies (a dead
 *   node sends no MOVED), so while any master is silent the heartbeat asks a live one for the map
 *   again until every master answers. Through Sentinel node-redis holds commands while there is no
 *   primary and sends them to the next one; scripts are therefore sent with an AbortSignal that
 *   fires at the deadline, so a write answered 503 cannot land later.
 */
export class RedisService {
  /** The node-redis object (a client, a cluster or a sentinel); use keyed commands only. */
  get client(): RedisClientType {
    return this.current;
  }
  readonly topology: 'node' | 'cluster' | 'sentinel';
  private current: RedisClientType;
  private readonly cluster: RedisClusterType | undefined;
  /** Replaced by a fresh one when its first connect failed (node-redis cannot retry a failed sentinel connect). */
  private sentinel: RedisSentinelType | undefined;
  private buildSentinel: ((cache?: boolean) => RedisSentinelType) | undefined;
  /** Sentinel: the current object's connect() is under way / failed, and when a rebuild may next be tried. */
  private sentinelConnecting = false;
  private sentinelFailed = false;
  private sentinelRebuilds = 0;
  private sentinelRetryAt = 0;
  private readonly replacedListeners: ((client: RedisClientType) => void)[] = [];
  private readonly logger = new Logger('Redis');
  private connected = false;
  private warnedDown = false;
  /** When the unanswered heartbeat ping was sent (undefined: none outstanding). Single node only. */
  private heartbeatSentAt: number | undefined;
  /** Recent estimates of Redis's clock minus ours (from TIME), with their uncertainty (half the round trip). */
  private readonly clockSamples: ClockSample[] = [];
  /** Cluster and Sentinel: heartbeat state per primary, by address. */
  private readonly primaries = new Map<string, PrimaryBeat>();
  private rediscovering = false;
  private clusterConnecting = false;
  /**
   * Cluster: the nodes' `cluster-require-full-coverage` is `no`, so the cluster serves the slots it
   * still covers while a shard is down, and so do we (only keys of a silent master fail). Unknown
   * (CONFIG refused, e.g. on managed services) counts as `yes`: the whole instance fails closed.
   */
  private partialCoverage = false;
  private coverageKnown = false;
  private readingCoverage = false;
  private readonly heartbeat: NodeJS.Timeout;
  private closing = false;

  constructor(private readonly options: RedisOptions) {
    const cacheEntries = options.clientCacheEntries ?? 100_000;
    const clientSideCache = cacheEntries > 0 ? { maxEntries: cacheEntries, evictPolicy: 'LRU' as const, recordStats: false } : undefined;
    const socket = {
      connectTimeout: 2000,
      // No byte for this long (the heartbeat keeps the socket busy): the connection is replaced.
      socketTimeout: Math.max(5000, options.commandTimeoutMs * 3),
      // Capped exponential backoff with jitter: recovers within seconds, no reconnect storm. Once
      // closing, none: node-redis's Sentinel close() waits for a connect that would otherwise retry
      // for ever (e.g. a wrong password on the data nodes).
      reconnectStrategy: (retries: number) =>
        this.closing ? new Error('closing') : Math.min(50 * 2 ** retries, 1000) + Math.floor(Math.random() * 100),
    };
    const tlsOptions = { tls: true as const, ...(options.tlsCa ? { ca: options.tlsCa } : {}) };
    if (options.cluster) {
      const { nodes, tls, username, password } = options.cluster;
      this.topology = 'cluster';
      this.cluster = createCluster({
        // With REDIS_TLS and redis:// URLs the scheme must say TLS too: node-redis refuses a root
        // node whose URL and socket disagree about it.
        rootNodes: nodes.map((url) => ({ url: tls ? url.replace(/^redis:/, 'rediss:') : url })),
        // Node clients are built from `defaults` only (a root node's URL serves discovery alone), so
        // credentials and TLS go here.
        defaults: {
          ...(username ? { username } : {}),
          ...(password ? { password } : {}),
          // Commands for a dead node fail at once instead of queueing: fail closed, fast.
          disableOfflineQueue: true,
          socket: tls ? { ...socket, ...tlsOptions } : socket,
        },
        RESP: 3,
        ...(clientSideCache ? { clientSideCache } : {}),
        // Replicas lag behind: a revoked session could still look alive there.
        useReplicas: false,
        minimizeConnections: false,
      }) as unknown as RedisClusterType;
      this.cluster.on('error', () => undefined);
      this.cluster.on('node-error', () => undefined);
      this.current = this.cluster as unknown as RedisClientType;
    } else if (options.sentinel) {
      const { sentinels, master, tls, username, password, sentinelPassword } = options.sentinel;
      this.topology = 'sentinel';
      this.buildSentinel = (cache = true) => {
        const built = createSentinel({
          name: master,
          sentinelRootNodes: sentinels,
          RESP: 3,
          ...(clientSideCache && cache ? { clientSideCache } : {}),
          masterPoolSize: 1,
          replicaPoolSize: 0,
          nodeClientOptions: {
            ...(username ? { username } : {}),
            ...(password ? { password } : {}),
            disableOfflineQueue: true,
            socket: tls ? { ...socket, ...tlsOptions } : socket,
          },
          sentinelClientOptions: {
            ...(sentinelPassword ? { password: sentinelPassword } : {}),
            socket: tls ? { connectTimeout: 2000, ...tlsOptions } : { connectTimeout: 2000 },
          },
        }) as unknown as RedisSentinelType;
        // 'error' may carry a string here; the heartbeat is what decides.
        built.on('error', () => undefined);
        built.on('topology-change', (event: { type: string }) => {
          // Another primary: another clock, and nothing cached from the old one is trusted.
          if (event.type === 'MASTER_CHANGE') {
            this.primaries.clear();
            built.clientSideCache?.clear();
          }
        });
        return built;
      };
      this.sentinel = this.buildSentinel();
      this.current = this.sentinel as unknown as RedisClientType;
    } else {
      this.topology = 'node';
      this.current = createClient({
        url: options.url,
        RESP: 3,
        ...(clientSideCache ? { clientSideCache } : {}),
        // Commands fail at once while disconnected instead of queueing: fail closed, fast.
        disableOfflineQueue: true,
        // rediss:// sets TLS; the CA must come with the socket options.
        socket: options.url?.startsWith('rediss:') ? { ...socket, ...tlsOptions } : socket,
      }) as unknown as RedisClientType;
      this.client.on('error', (error: Error) => this.markDown(error.message));
      this.client.on('ready', () => {
        if (this.warnedDown) this.logger.log('Redis connection restored');
        this.connected = true;
        this.warnedDown = false;
        this.heartbeatSentAt = undefined;
      });
    }
    this.heartbeat = setInterval(() => this.beat(), HEARTBEAT_MS);
    this.heartbeat.unref();
  }

  private beat(): void {
    if (this.cluster) this.beatCluster(this.cluster);
    else if (this.sentinel) this.beatSentinel(this.sentinel);
    else this.beatNode();
  }

  /**
   * One ping at a time; staleness is measured from when it was *sent*, so a busy event loop here
   * (which delays sending) is not mistaken for a silent Redis.
   */
  private beatNode(): void {
    if (!this.client.isReady) return;
    if (this.heartbeatSentAt !== undefined) {
      if (this.connected && Date.now() - this.heartbeatSentAt > HEARTBEAT_STALE_MS) this.markDown('no answer to the heartbeat');
      return;
    }
    const sentAt = (this.heartbeatSentAt = Date.now());
    // TIME rather than PING: the same liveness signal, plus a sample of Redis's clock (see serverDeadline).
    this.client.time().then(
      (reply) => {
        pushSample(this.clockSamples, sentAt, Date.now(), reply as unknown as [string, string]);
        this.heartbeatSentAt = undefined;
        if (!this.connected && this.client.isReady) {
          this.connected = true;
          if (this.warnedDown) this.logger.log('Redis answers again');
          this.warnedDown = false;
        }
      },
      () => {
        this.heartbeatSentAt = undefined;
      },
    );
  }

  private primary(address: string): PrimaryBeat {
    let state = this.primaries.get(address);
    if (!state) this.primaries.set(address, (state = { sentAt: undefined, fresh: false, samples: [] }));
    return state;
  }

  /** A primary went silent or failed: nothing cached is trusted, and requests fail closed until it (or its successor) answers. */
  private primaryDown(state: PrimaryBeat, reason: string): void {
    if (state.fresh || !this.warnedDown) this.markDown(reason);
    state.fresh = false;
  }

  private primaryAnswered(state: PrimaryBeat, sentAt: number, reply: unknown): void {
    pushSample(state.samples, sentAt, Date.now(), reply as [string, string]);
    state.sentAt = undefined;
    state.fresh = true;
  }

  /** This primary answered its last heartbeat and the one outstanding is not overdue. */
  private isFresh(address: string, now = Date.now()): boolean {
    const state = this.primaries.get(address);
    return state !== undefined && state.fresh && (state.sentAt === undefined || now - state.sentAt <= HEARTBEAT_STALE_MS);
  }

  /** Every primary answers within the staleness bound (cluster, Sentinel). */
  private get primariesFresh(): boolean {
    const now = Date.now();
    const expected = this.cluster ? this.cluster.masters.map((m) => m.address) : [...this.primaries.keys()];
    return expected.length > 0 && expected.every((address) => this.isFresh(address, now));
  }

  /** The master that owns `key`'s slot now (cluster), if the slot is covered. */
  private masterOf(key: string): string | undefined {
    return this.cluster?.slots[keySlot(key)]?.master.address;
  }

  /**
   * Whether a command on `key` may be sent (and a cached reply trusted). A cluster that serves
   * partial coverage is judged per slot: its master must be fresh. Everywhere else: `isReady`.
   */
  private canServe(key: string | undefined): boolean {
    if (!this.partialCoverage || key === undefined) return this.isReady;
    const master = this.masterOf(key);
    return this.connected && master !== undefined && this.isFresh(master);
  }

  /** Reads the cluster's own `cluster-require-full-coverage` from a live master (once it answers). */
  private readCoverage(cluster: RedisClusterType): void {
    if (this.coverageKnown || this.readingCoverage) return;
    const master = cluster.masters.find((m) => this.isFresh(m.address));
    if (!master) return;
    this.readingCoverage = true;
    void within(
      Promise.resolve(cluster.nodeClient(master)).then((node) => node.configGet('cluster-require-full-coverage')),
      HEARTBEAT_STALE_MS,
      () => undefined,
    )
      .then(
        (reply) => {
          if (!reply) return;
          this.partialCoverage = String((reply as Record<string, string>)['cluster-require-full-coverage']).toLowerCase() === 'no';
          this.coverageKnown = true;
          if (this.partialCoverage) this.logger.log('Redis Cluster serves partial coverage: a shard down fails only its own keys');
        },
        // CONFIG refused (a managed service, an ACL): stay strict.
        (error: Error) => {
          this.coverageKnown = true;
          this.logger.log(`cluster-require-full-coverage unreadable (${error.message}); treated as yes`);
        },
      )
      .finally(() => (this.readingCoverage = false));
  }

  private noteRecovery(): void {
    if (this.warnedDown && (this.cluster ? this.primariesFresh : this.isReady)) {
      this.logger.log('Redis answers again');
      this.warnedDown = false;
    }
  }

  /** TIME on every master's own connection (node-redis has no per-node heartbeat); re-reads the slot map while one is silent. */
  private beatCluster(cluster: RedisClusterType): void {
    if (!this.connected) return;
    if (!cluster.isOpen) {
      // The first discovery failed (no node reachable at start-up): node-redis does not retry it.
      this.markDown('no cluster node reachable');
      if (!this.clusterConnecting) {
        this.clusterConnecting = true;
        (cluster.connect() as Promise<unknown>).catch(() => undefined).finally(() => (this.clusterConnecting = false));
      }
      return;
    }
    const now = Date.now();
    const masters = cluster.masters;
    const addresses = new Set(masters.map((m) => m.address));
    for (const address of this.primaries.keys()) if (!addresses.has(address)) this.primaries.delete(address);
    for (const master of masters) {
      const state = this.primary(master.address);
      if (state.sentAt !== undefined) {
        if (now - state.sentAt > HEARTBEAT_STALE_MS) this.primaryDown(state, `no answer to the heartbeat from ${master.address}`);
        continue;
      }
      const sentAt = (state.sentAt = now);
      Promise.resolve(cluster.nodeClient(master))
        // ROLE beside TIME: a master that was frozen and thawed after its replica took over answers
        // TIME as a replica; only ROLE says our slot map is out of date (re-read below).
        .then((node) => Promise.all([node.time(), node.sendCommand<unknown[]>(['ROLE'])]))
        .then(
          ([reply, role]) => {
            if (String(role?.[0]) !== 'master') {
              state.sentAt = undefined;
              this.primaryDown(state, `${master.address} is no longer a master`);
              return;
            }
            this.primaryAnswered(state, sentAt, reply);
            this.noteRecovery();
          },
          (error: Error) => {
            state.sentAt = undefined;
            this.primaryDown(state, `${master.address}: ${error.message}`);
          },
        );
    }
    this.readCoverage(cluster);
    if (!this.primariesFresh && !this.rediscovering) {
      const healthy = masters.find((m) => this.primaries.get(m.address)?.fresh && m.client?.isReady);
      if (healthy?.client) {
        this.rediscovering = true;
        (cluster as unknown as { _slots: { rediscover(client: unknown): Promise<void> } })._slots
          .rediscover(healthy.client)
          .catch(() => undefined)
          .finally(() => (this.rediscovering = false));
      }
    }
  }

  /** TIME to the current primary through Sentinel; a failover empties the state (another node, another clock). */
  private beatSentinel(sentinel: RedisSentinelType): void {
    if (!this.connected) return;
    if (this.sentinelFailed || (!sentinel.isOpen && !this.sentinelConnecting)) {
      this.markDown('no sentinel reachable');
      this.rebuildSentinel(sentinel);
      return;
    }
    const node = sentinel.getMasterNode();
    if (!node) {
      for (const state of this.primaries.values()) this.primaryDown(state, 'no primary through Sentinel');
      if (!this.warnedDown) this.markDown('no primary through Sentinel');
      return;
    }
    const address = `${node.host}:${node.port}`;
    for (const key of this.primaries.keys()) if (key !== address) this.primaries.delete(key);
    const state = this.primary(address);
    const now = Date.now();
    if (state.sentAt !== undefined) {
      if (now - state.sentAt > HEARTBEAT_STALE_MS) this.primaryDown(state, `no answer to the heartbeat from ${address}`);
      return;
    }
    const sentAt = (state.sentAt = now);
    sentinel.sendCommand(false, ['TIME'], { abortSignal: AbortSignal.timeout(HEARTBEAT_STALE_MS) }).then(
      (reply) => {
        this.primaryAnswered(state, sentAt, reply);
        this.noteRecovery();
      },
      (error: Error) => {
        state.sentAt = undefined;
        this.primaryDown(state, `${address}: ${error.message}`);
      },
    );
  }

  /** Called with the new object when `client` is replaced (Sentinel, after a failed first connect). */
  onClientReplaced(listener: (client: RedisClientType) => void): void {
    this.replacedListeners.push(listener);
  }

  /**
   * No sentinel answered the first connect: node-redis cannot retry it (a failed connect needs
   * destroy() and a new object), so a fresh one with the same options is built and connected, with
   * capped backoff, until one connects.
   */
  private rebuildSentinel(old: RedisSentinelType): void {
    if (this.sentinelConnecting || Date.now() < this.sentinelRetryAt || !this.buildSentinel) return;
    this.sentinelRetryAt = Date.now() + Math.min(500 * 2 ** this.sentinelRebuilds++, 5000);
    // It may already be closed (then destroy throws): nothing left to free.
    void Promise.resolve()
      .then(() => old.destroy())
      .catch(() => undefined);
    this.sentinel = this.buildSentinel();
    this.current = this.sentinel as unknown as RedisClientType;
    for (const listener of this.replacedListeners) listener(this.current);
    void this.connectSentinel(this.sentinel);
  }

  private connectSentinel(sentinel: RedisSentinelType): Promise<unknown> {
    this.sentinelConnecting = true;
    this.sentinelFailed = false;
    return (sentinel.connect() as Promise<unknown>).then(
      () => {
        if (sentinel !== this.sentinel) return;
        this.sentinelConnecting = false;
        this.sentinelRebuilds = 0;
      },
      () => {
        if (sentinel !== this.sentinel) return;
        this.sentinelConnecting = false;
        this.sentinelFailed = true;
      },
    );
  }

  /**
   * The latest moment, on Redis's own clock (ms), at which a write sent now may still commit: a bit
   * before this call's deadline runs out here. A script that finds itself past it refuses to commit,
   * so a call answered 503 for slowness never lands afterwards (ROTATE_SESSION). The estimate of the
   * two clocks' offset with the smallest round trip is used, minus its uncertainty and a margin for
   * the reply's way back. On a cluster, the clock of the master that owns `key`; without a key (or
   * before that master was heard) the earliest over the masters' clocks (safe for every node: a
   * node whose clock is ahead only refuses sooner).
   */
  serverDeadline(key?: string, now = Date.now()): number {
    const owner = key === undefined ? undefined : this.primaries.get(this.masterOf(key) ?? '');
    const offsets =
      this.topology === 'node'
        ? [bestSample(this.clockSamples)]
        : owner?.samples.length
          ? [bestSample(owner.samples)]
          : [...this.primaries.values()].map((state) => bestSample(state.samples));
    const margin = Math.min(...(offsets.length ? offsets : [bestSample([])]).map((s) => s.offsetMs - s.uncertaintyMs));
    return Math.floor(now + this.options.commandTimeoutMs + margin - DEADLINE_REPLY_MARGIN_MS);
  }

  /** Logged once per outage, however many errors the outage produces. Nothing cached is trusted after it. */
  private markDown(reason: string): void {
    this.client.clientSideCache?.clear();
    if (!this.warnedDown) this.logger.warn(`Redis unavailable (${reason}); failing closed until it returns`);
    this.warnedDown = true;
    if (this.topology === 'node') this.connected = false;
  }

  /** Connects, waiting at most a few seconds: a Redis down at start-up means 503s, not a crash. */
  async connect(): Promise<void> {
    const connecting = this.sentinel
      ? this.connectSentinel(this.sentinel)
      : (this.client.connect() as Promise<unknown>).catch(() => undefined);
    await Promise.race([connecting, new Promise((resolve) => setTimeout(resolve, 3000).unref())]);
    if (this.cluster) {
      this.connected = true;
      const cluster = this.cluster;
      await Promise.all(
        cluster.masters.map(async (master) => {
          const state = this.primary(master.address);
          const sentAt = Date.now();
          await within(
            Promise.resolve(cluster.nodeClient(master)).then((node) => node.time()),
            HEARTBEAT_STALE_MS,
            () => undefined,
          ).then(
            (reply) => reply && this.primaryAnswered(state, sentAt, reply),
            () => undefined,
          );
        }),
      );
      this.readCoverage(cluster);
      const deadline = Date.now() + HEARTBEAT_STALE_MS;
      while (this.readingCoverage && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 20));
      return;
    }
    if (this.sentinel) {
      this.connected = true;
      this.beatSentinel(this.sentinel);
      const deadline = Date.now() + HEARTBEAT_STALE_MS;
      while (!this.primariesFresh && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 20));
      return;
    }
    if (this.client.isReady) {
      const sentAt = Date.now();
      await this.client.time().then(
        (reply) => pushSample(this.clockSamples, sentAt, Date.now(), reply as unknown as [string, string]),
        () => undefined,
      );
    }
  }

  /**
   * Connected and every primary answering the heartbeat; a cluster serving partial coverage: at
   * least one (which keys it can serve is then decided per slot, see canServe).
   */
  get isReady(): boolean {
    if (this.topology !== 'node') {
      if (!this.connected) return false;
      if (this.partialCoverage && this.cluster) return this.cluster.masters.some((m) => this.isFresh(m.address));
      if (!this.primariesFresh) return false;
      return this.sentinel ? this.sentinel.getMasterNode() !== undefined : true;
    }
    const waiting = this.heartbeatSentAt === undefined ? 0 : Date.now() - this.heartbeatSentAt;
    return this.connected && this.client.isReady && waiting <= HEARTBEAT_STALE_MS;
  }

  /**
   * Runs one Redis operation under the deadline, mapping connection failures to 503. `key`: the
   * key it touches (on a cluster serving partial coverage, only that slot's master must answer).
   */
  async run<T>(operation: (client: RedisClientType) => Promise<T>, key?: string): Promise<T> {
    if (!this.canServe(key)) throw new DependencyUnavailableError('redis');
    try {
      return await within(operation(this.client), this.options.commandTimeoutMs, () => {
        throw new DependencyUnavailableError('redis');
      });
    } catch (error) {
      // A reply error is a bug in a script or command, not an outage: let it surface as such.
      if (error instanceof ErrorReply && !OUTAGE_REPLY.test(error.message)) throw error;
      if (error instanceof DependencyUnavailableError) throw error;
      throw new DependencyUnavailableError('redis', error);
    }
  }

  /**
   * EVALSHA, loading the script on first use (or after a Redis restart flushed the cache). All keys
   * must share the first key's hash tag (one slot). `durable`: a session write that, with
   * REDIS_WAIT_REPLICAS, is answered only once that many replicas have it.
   */
  async eval(script: LuaScript, keys: string[], args: string[], options: { durable?: boolean } = {}): Promise<unknown> {
    const replicas = options.durable ? (this.options.waitReplicas ?? 0) : 0;
    return this.run(async () => {
      try {
        return await this.send(script.sha, false, keys, args, replicas);
      } catch (error) {
        if (isNoScript(error)) return this.send(script.source, true, keys, args, replicas);
        throw error;
      }
    }, keys[0]);
  }

  private send(body: string, source: boolean, keys: string[], args: string[], replicas: number): Promise<unknown> {
    if (replicas > 0) return this.sendAndWait(body, source, keys, args, replicas);
    if (this.sentinel) {
      // Typed commands on a sentinel ignore command options; only sendCommand takes the signal
      // that stops a write node-redis still holds (no primary yet) once its caller has had a 503.
      return this.sentinel.sendCommand(false, [source ? 'EVAL' : 'EVALSHA', body, String(keys.length), ...keys, ...args], {
        abortSignal: AbortSignal.timeout(this.options.commandTimeoutMs),
      });
    }
    const target = this.cluster ?? this.client;
    return source ? target.eval(body, { keys, arguments: args }) : target.evalSha(body, { keys, arguments: args });
  }

  /**
   * The script and WAIT in one pipeline, so WAIT runs on the connection that did the write (WAIT
   * counts the replicas that reached that connection's last write; inside MULTI it returns at once).
   * Fewer replicas than asked within the timeout: 503. The write has happened on the primary then,
   * and is kept: the client retries (a login logs in again, a rotation is answered as a reuse
   * within the grace period), and the replicas usually catch up moments later.
   */
  private async sendAndWait(body: string, source: boolean, keys: string[], args: string[], replicas: number): Promise<unknown> {
    // Below the command deadline, leaving time for the script and the reply.
    const waitArgs = ['WAIT', String(replicas), String(Math.max(1, Math.floor(this.options.commandTimeoutMs * 0.6)))];
    const options = { keys, arguments: args };
    let replies: unknown[];
    try {
      if (this.cluster) {
        const multi = this.cluster.multi(keys[0]);
        (source ? multi.eval(body, options) : multi.evalSha(body, options)).addCommand(keys[0], false, waitArgs);
        replies = await multi.execAsPipeline();
      } else if (this.sentinel) {
        const multi = this.sentinel.multi();
        (source ? multi.eval(body, options) : multi.evalSha(body, options)).addCommand(false, waitArgs);
        replies = await multi.execAsPipeline();
      } else {
        const multi = this.client.multi();
        (source ? multi.eval(body, options) : multi.evalSha(body, options)).addCommand(waitArgs);
        replies = await multi.execAsPipeline();
      }
    } catch (error) {
      // The first failing reply says what happened (NOSCRIPT, MOVED, a script bug).
      if (error instanceof MultiErrorReply && error.replies.length) throw error.replies[error.errorIndexes[0] ?? 0] ?? error;
      throw error;
    }
    const [result, acknowledged] = replies;
    if (result instanceof ErrorReply) throw result;
    if (Number(acknowledged) < replicas) {
      throw new DependencyUnavailableError('redis', new Error(`WAIT: ${String(acknowledged)} of ${replicas} replicas acknowledged`));
    }
    return result;
  }

  /**
   * Readiness: every primary answers, and a cluster says it can serve (its own cluster_state). A
   * cluster serving partial coverage: the masters that answer say cluster_state:ok (a shard down
   * then fails only its own keys, as the cluster itself does).
   */
  async ping(): Promise<void> {
    if (this.cluster) {
      const cluster = this.cluster;
      await this.run(async () => {
        const masters = this.partialCoverage ? cluster.masters.filter((m) => this.isFresh(m.address)) : cluster.masters;
        for (const master of masters) {
          const node = await cluster.nodeClient(master);
          const info = String(await node.clusterInfo());
          if (!/cluster_state:ok/.test(info))
            throw new DependencyUnavailableError('redis', new Error(`cluster_state not ok on ${master.address}`));
        }
      });
      return;
    }
    if (this.sentinel) {
      const sentinel = this.sentinel;
      await this.run(() => sentinel.sendCommand(false, ['PING'], { abortSignal: AbortSignal.timeout(this.options.commandTimeoutMs) }));
      return;
    }
    await this.run((client) => client.ping());
  }

  /**
   * A connection of its own, for blocking reads (XREAD BLOCK) that must never hold up the shared
   * connection (or its client-side cache's invalidations). No cache, follows failovers like the
   * shared one; commands go through sendCommand (node-redis refuses XREAD's RESP3 reply as typed).
   * Keep BLOCK well below the 5 s socket timeout. The caller closes it (close() rejects a pending
   * read at once).
   */
  async dedicatedConnection(): Promise<DedicatedConnection> {
    if (this.cluster) {
      const cluster = this.cluster.duplicate({ clientSideCache: undefined }) as unknown as RedisClusterType;
      cluster.on('error', () => undefined);
      cluster.on('node-error', () => undefined);
      await cluster.connect();
      return {
        send: (key, args) => cluster.sendCommand(key, false, args),
        close: () => cluster.destroy(),
      };
    }
    if (this.buildSentinel) {
      const sentinel = this.buildSentinel(false);
      await sentinel.connect();
      return {
        send: (_key, args) => sentinel.sendCommand(false, args),
        close: () => void Promise.resolve(sentinel.destroy()).catch(() => undefined),
      };
    }
    const client = this.client.duplicate({ clientSideCache: undefined }) as unknown as RedisClientType;
    client.on('error', () => undefined);
    await client.connect();
    return { send: (_key, args) => client.sendCommand(args), close: () => client.destroy() };
  }

  /** Bounded: a shutdown never waits on a Redis that does not let us in. */
  async close(): Promise<void> {
    clearInterval(this.heartbeat);
    this.closing = true;
    if (this.client.isOpen) {
      const closed = (this.client.close() as Promise<unknown>).catch(() => this.client.destroy());
      await within(closed, CLOSE_TIMEOUT_MS, () => {
        this.logger.warn('Redis did not close in time; shutting down without it');
      });
    }
  }
}
