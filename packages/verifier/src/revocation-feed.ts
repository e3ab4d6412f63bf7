import { performance } from 'node:perf_hooks';
import { createParser, type EventSourceMessage } from 'eventsource-parser';
import { parseRevocation, type RevocationEvent } from './revocation-set.js';
import type { VerifierLogger } from './options.js';

export interface RevocationFeedOptions {
  /** `{tesseraUrl}/auth/revocations`. */
  url: string;
  clientId: string;
  clientSecret: string;
  fetch: typeof fetch;
  maxStalenessMs: number;
  watchdogMs: number;
  reconnectMinDelayMs: number;
  reconnectMaxDelayMs: number;
  logger: VerifierLogger;
  onRevocation(event: RevocationEvent): void;
}

/** RFC 6749 §2.3.1: id and secret are form-urlencoded before they are joined for HTTP Basic. */
export function basicCredentials(id: string, secret: string): string {
  const form = (value: string) => new URLSearchParams({ v: value }).toString().slice(2);
  return `Basic ${Buffer.from(`${form(id)}:${form(secret)}`).toString('base64')}`;
}

/**
 * Follows Tessera's revocation feed (Server-Sent Events over fetch: Node has no EventSource) and
 * says whether what it has applied can be trusted.
 *
 * - Reconnects forever (any error, any status), with capped exponential backoff and jitter, and
 *   resumes with `Last-Event-ID`: no event is missed across a reconnect.
 * - Caught up: the server writes what was missed (after `Last-Event-ID`, or everything it keeps
 *   after `event: reset`) before its first heartbeat comment, so the first comment of a connection
 *   (or after a reset) marks the replay applied.
 * - Fresh: caught up once, and a byte of a caught-up connection read at most `maxStalenessMs`
 *   ago (monotonic clock), connected or not. A connection silent for `watchdogMs` (heartbeats come
 *   at least every 2 s; never more than `maxStalenessMs`, see resolveOptions) is aborted and replaced.
 */
export class RevocationFeed {
  private lastEventId?: string;
  private healthy = false;
  private everCaughtUp = false;
  /** performance.now() of the last byte of a caught-up connection: monotonic, so a wall-clock step cannot make a lost feed look fresh. */
  private lastHealthyAt = 0;
  private stopped = true;
  private controller?: AbortController;
  private watchdog?: NodeJS.Timeout;
  private sleeping?: { timer: NodeJS.Timeout; wake: () => void };
  private loop?: Promise<void>;
  private failures = 0;
  private lostLogged = false;
  private unreadableLoggedId?: string;
  private caughtUpWaiters: (() => void)[] = [];

  constructor(private readonly options: RevocationFeedOptions) {}

  /** Whether revocations can be trusted now (see the class comment). */
  isFresh(now = performance.now()): boolean {
    // A byte within maxStalenessMs is required even while connected: an open connection gone
    // silent (a stuck proxy) is no better than a lost one, whatever the watchdog says.
    return this.everCaughtUp && now - this.lastHealthyAt <= this.options.maxStalenessMs;
  }

  /** For health checks and diagnostics: connected and caught up now; how long since the last byte of a caught-up connection. */
  status(now = performance.now()): { connected: boolean; lostForMs: number | undefined } {
    return { connected: this.healthy, lostForMs: this.healthy || !this.everCaughtUp ? undefined : now - this.lastHealthyAt };
  }

  /** Seconds a client should wait before retrying a 503 (whole, at least 1). */
  retryAfterSeconds(): number {
    return Math.max(1, Math.ceil(this.options.reconnectMaxDelayMs / 1000));
  }

  get position(): string | undefined {
    return this.lastEventId;
  }

  start(): void {
    if (!this.stopped) return;
    this.stopped = false;
    this.loop = this.run();
  }

  /** Resolves once the feed has caught up for the first time (for start-up probes and tests). */
  caughtUp(): Promise<void> {
    if (this.everCaughtUp) return Promise.resolve();
    return new Promise((resolve) => this.caughtUpWaiters.push(resolve));
  }

  async stop(): Promise<void> {
    this.stopped = true;
    this.controller?.abort();
    if (this.sleeping) {
      clearTimeout(this.sleeping.timer);
      this.sleeping.wake();
    }
    clearTimeout(this.watchdog);
    await this.loop;
  }

  private async run(): Promise<void> {
    while (!this.stopped) {
      try {
        await this.connectOnce();
      } catch (error) {
        if (!this.stopped) this.noteLost((error as Error).message);
      }
      clearTimeout(this.watchdog);
      // Whatever ended this attempt, its connection is closed before the next one opens.
      this.controller?.abort();
      this.markUnhealthy();
      if (this.stopped) break;
      await this.sleep(this.backoffMs());
    }
  }

  private async connectOnce(): Promise<void> {
    const controller = new AbortController();
    this.controller = controller;
    const headers: Record<string, string> = {
      Accept: 'text/event-stream',
      Authorization: basicCredentials(this.options.clientId, this.options.clientSecret),
      'Cache-Control': 'no-store',
    };
    if (this.lastEventId !== undefined) headers['Last-Event-ID'] = this.lastEventId;
    this.armWatchdog(controller);
    const response = await this.options.fetch(this.options.url, { headers, signal: controller.signal });
    if (response.status !== 200 || !response.headers.get('content-type')?.startsWith('text/event-stream')) {
      await response.body?.cancel().catch(() => undefined);
      // 400 is Tessera refusing our position (it cannot read it): start over from everything it
      // keeps, a superset of what we missed, rather than ask with the same position forever.
      if (response.status === 400 && this.lastEventId !== undefined) {
        this.options.logger.warn('Tessera verifier: the feed refused our position; reading everything it keeps');
        this.lastEventId = undefined;
      }
      throw new Error(`the feed answered HTTP ${response.status}${response.status === 401 ? ' (check the service credential)' : ''}`);
    }
    if (!response.body) throw new Error('the feed answered without a body');
    let caughtUpHere = false;
    // Set by a revocation event we cannot apply: nothing after it on this connection is read.
    let unreadable = false;
    const parser = createParser({
      onEvent: (message: EventSourceMessage) => {
        if (unreadable) return;
        if (message.event === 'revocation') {
          const event = parseRevocation(message.data);
          if (!event) {
            // Skipping it would lose a revocation for good (fail open). Stay before it: drop the
            // connection and resume from the last event applied; no comment can mark us caught up
            // past it, so requests answer 503 after maxStalenessMs until a readable feed resumes.
            unreadable = true;
            this.refuseUnreadable(message.id, controller);
            return;
          }
          this.options.onRevocation(event);
          if (message.id !== undefined) this.lastEventId = message.id;
        } else if (message.event === 'reset') {
          // Our position is no longer kept: what follows is everything kept. What we have stays
          // (entries expire on their own); we are caught up only once that replay has been read.
          this.options.logger.warn('Tessera verifier: the feed could not resume from our position; reading everything it keeps');
          caughtUpHere = false;
          this.markUnhealthy();
          if (message.id !== undefined) this.lastEventId = message.id;
        }
      },
      // Other event names are ignored: a newer Tessera may send events this version need not read.
      onComment: () => {
        if (!caughtUpHere && !unreadable) {
          caughtUpHere = true;
          this.markCaughtUp();
        }
      },
    });
    const decoder = new TextDecoder();
    const reader = response.body.getReader();
    try {
      for (;;) {
        const { done, value } = await reader.read();
        if (done) break;
        this.armWatchdog(controller);
        if (caughtUpHere && !unreadable) this.lastHealthyAt = performance.now();
        parser.feed(decoder.decode(value, { stream: true }));
      }
    } finally {
      reader.releaseLock();
    }
    throw new Error('the feed closed the connection');
  }

  private refuseUnreadable(id: string | undefined, controller: AbortController): void {
    // Logged once per event, not once per reconnect that reads it again.
    if (id === undefined || id !== this.unreadableLoggedId)
      this.options.logger.error(
        `Tessera verifier: revocation event ${id ?? '(without id)'} cannot be applied by this version; ` +
          'not trusting revocations until the feed resumes past it (upgrade @tessera/verifier)',
      );
    this.unreadableLoggedId = id;
    this.markUnhealthy();
    controller.abort(new Error('an unreadable revocation event'));
  }

  private markCaughtUp(): void {
    this.healthy = true;
    this.lastHealthyAt = performance.now();
    this.failures = 0;
    if (this.lostLogged) this.options.logger.log('Tessera verifier: the revocation feed is back and caught up');
    this.lostLogged = false;
    if (!this.everCaughtUp) {
      this.everCaughtUp = true;
      for (const resolve of this.caughtUpWaiters.splice(0)) resolve();
    }
  }

  /** lastHealthyAt stays the time of the last byte of a caught-up connection: staleness counts from there. */
  private markUnhealthy(): void {
    this.healthy = false;
  }

  private noteLost(reason: string): void {
    this.failures++;
    // Once per outage, not once per attempt.
    if (!this.lostLogged) this.options.logger.warn(`Tessera verifier: the revocation feed was lost (${reason}); reconnecting`);
    this.lostLogged = true;
  }

  private armWatchdog(controller: AbortController): void {
    clearTimeout(this.watchdog);
    this.watchdog = setTimeout(
      () => controller.abort(new Error(`no heartbeat for ${this.options.watchdogMs} ms`)),
      this.options.watchdogMs,
    );
  }

  private backoffMs(): number {
    const { reconnectMinDelayMs: min, reconnectMaxDelayMs: max } = this.options;
    const ceiling = Math.min(max, min * 2 ** Math.min(this.failures, 16));
    // "Equal jitter": between half the ceiling and the ceiling, so instances do not reconnect in step.
    return ceiling / 2 + Math.random() * (ceiling / 2);
  }

  private sleep(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const wake = () => {
        this.sleeping = undefined;
        resolve();
      };
      this.sleeping = { timer: setTimeout(wake, ms), wake };
    });
  }
}
