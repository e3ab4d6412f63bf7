import { type BeforeApplicationShutdown, Inject, Injectable, type MessageEvent } from '@nestjs/common';
import { Observable, Subject } from 'rxjs';
import { Problems } from '../common/problems/problem.js';
import { FEED_START, type FeedEntry, compareEntryIds, parseEntryId } from './revocation-event.js';
import { REVOCATION_LOG, type RevocationLog } from './revocation-log.js';

/** A comment line this often keeps proxies from closing the stream and tells the client the feed is alive. */
export const HEARTBEAT_MS = 1000;
const PAGE = 500;
/**
 * Open streams per instance. Beyond it a new stream is 503 (Retry-After): a service credential
 * opening streams at will cannot grow memory and the fan-out without bound. Far above what real
 * verifiers need (one stream per verifier process).
 */
export const MAX_STREAMS = 1000;

/**
 * Serves the revocation feed to downstream services: what is kept after the client's position,
 * then every new entry as it arrives (fanned out from the log's one live reader), with heartbeats.
 * A position that is no longer kept (or never was) is answered with a `reset` first: the client
 * drops what it knows and takes everything kept, so it never silently misses an event.
 */
@Injectable()
export class RevocationFeedService implements BeforeApplicationShutdown {
  private readonly shutdown = new Subject<void>();
  private closing = false;
  /** Streams subscribed and not yet ended. */
  private streams = 0;

  constructor(@Inject(REVOCATION_LOG) private readonly log: RevocationLog) {}

  /** 400 for a malformed position, 503 when the feed cannot be followed now; otherwise the stream. */
  async open(lastEventId: string | undefined): Promise<Observable<MessageEvent>> {
    const from = lastEventId?.trim() || undefined;
    if (from !== undefined && !parseEntryId(from)) {
      throw Problems.validation([{ field: 'Last-Event-ID', message: 'must be a position this feed sent (its id:, e.g. 1795611226664-0)' }]);
    }
    if (this.closing) throw Problems.serviceUnavailable('Shutting down; reconnect to another instance');
    if (this.streams >= MAX_STREAMS) throw Problems.serviceUnavailable('Too many revocation feed streams open here; retry shortly');

    await this.log.ready();
    const reset = from !== undefined && from !== FEED_START && !(await this.log.has(from));
    const start = reset || from === undefined ? FEED_START : from;
    // The first page now, so a Redis that cannot be read is a 503 rather than a stream that ends.
    const first = await this.log.range(start, PAGE);
    // Nothing is registered before Nest subscribes: a client that left during setup (Nest then never
    // subscribes) leaves nothing behind. Everything a stream holds lives and dies with its subscription.
    return new Observable<MessageEvent>((subscriber) => {
      let last = start;
      const send = (entries: FeedEntry[]) => {
        for (const entry of entries) {
          if (compareEntryIds(entry.id, last) <= 0) continue;
          last = entry.id;
          subscriber.next({ id: entry.id, type: 'revocation', data: entry.event });
        }
      };
      // Live entries wait here while the backlog is sent; undefined once caught up.
      let live: FeedEntry[] | undefined = [];
      const listeners = {
        entries: (entries: FeedEntry[]) => (live ? live.push(...entries) : send(entries)),
        down: () => subscriber.complete(),
      };
      let heartbeat: NodeJS.Timeout | undefined;
      let ended = false;
      this.streams++;
      const stop = this.shutdown.subscribe(() => subscriber.complete());
      const teardown = () => {
        if (!ended) this.streams--;
        ended = true;
        clearInterval(heartbeat);
        stop.unsubscribe();
        this.log.unfollow(listeners);
      };
      // Follow, then read the rest of what is kept: an entry appended meanwhile arrives both ways and
      // is sent once (by position); none can fall between the two.
      if (!this.log.follow(listeners)) {
        // The live tail was lost since setup: end at once rather than idle on heartbeats.
        subscriber.complete();
        return teardown;
      }
      // `id: 0-0`: resuming from it means "from what is kept", which is what the client now holds.
      if (reset) subscriber.next({ id: FEED_START, type: 'reset', data: { reason: 'position not kept; everything kept follows' } });
      void (async () => {
        try {
          // Page by page, yielding between pages: many streams catching up at once share the event
          // loop with live deliveries instead of holding them up, and none holds the whole backlog.
          // The first page was read before following: at least one more read after it, so an entry
          // appended in between is not missed.
          let page = first;
          let cursor = start;
          for (let followed = false; ; followed = true) {
            send(page.entries);
            cursor = page.last ?? cursor;
            if (page.done && followed) break;
            await new Promise((resolve) => setImmediate(resolve));
            if (ended) return;
            page = await this.log.range(cursor, PAGE);
            if (ended) return;
          }
          send(live ?? []);
          live = undefined;
          // A comment at once after what was kept: a verifier knows it has caught up without waiting
          // for the first heartbeat (it serves again only then).
          subscriber.next({ comment: 'caught-up' });
          heartbeat = setInterval(() => subscriber.next({ comment: 'hb' }), HEARTBEAT_MS);
        } catch {
          // The backlog could not be read (Redis lost): the client reconnects, never told it caught up.
          subscriber.complete();
        }
      })();
      return teardown;
    });
  }

  /** Ends every open stream before the HTTP server closes (it would wait for them). */
  beforeApplicationShutdown(): void {
    this.closing = true;
    this.shutdown.next();
  }
}
