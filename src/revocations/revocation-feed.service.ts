import { type BeforeApplicationShutdown, Inject, Injectable, type MessageEvent } from '@nestjs/common';
import { Observable, Subject } from 'rxjs';
import { Problems } from '../common/problems/problem.js';
import { FEED_START, type FeedEntry, compareEntryIds, parseEntryId } from './revocation-event.js';
import { REVOCATION_LOG, type RevocationLog } from './revocation-log.js';

/** A comment line this often keeps proxies from closing the stream and tells the client the feed is alive. */
export const HEARTBEAT_MS = 1000;
const PAGE = 500;

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

  constructor(@Inject(REVOCATION_LOG) private readonly log: RevocationLog) {}

  /** 400 for a malformed position, 503 when the feed cannot be followed now; otherwise the stream. */
  async open(lastEventId: string | undefined): Promise<Observable<MessageEvent>> {
    const from = lastEventId?.trim() || undefined;
    if (from !== undefined && !parseEntryId(from)) {
      throw Problems.validation([{ field: 'Last-Event-ID', message: 'must be a position this feed sent (its id:, e.g. 1795611226664-0)' }]);
    }
    if (this.closing) throw Problems.serviceUnavailable('Shutting down; reconnect to another instance');

    // Follow first, then read what is kept: an entry appended meanwhile arrives both ways and is
    // sent once (by position); none can fall between the two.
    const live: FeedEntry[] = [];
    let push: ((entries: FeedEntry[]) => void) | undefined;
    let end: (() => void) | undefined;
    // The live tail lost before the response started: the stream must end at once, not idle on heartbeats.
    let lost = false;
    const listeners = {
      entries: (entries: FeedEntry[]) => (push ? push(entries) : live.push(...entries)),
      down: () => (end ? end() : (lost = true)),
    };
    await this.log.follow(listeners);
    let backlog: FeedEntry[];
    let reset = false;
    try {
      reset = from !== undefined && from !== FEED_START && !(await this.log.has(from));
      backlog = await this.readAll(reset || from === undefined ? FEED_START : from);
    } catch (error) {
      this.log.unfollow(listeners);
      throw error;
    }

    return new Observable<MessageEvent>((subscriber) => {
      let last = reset || from === undefined ? FEED_START : from;
      const send = (entries: FeedEntry[]) => {
        for (const entry of entries) {
          if (compareEntryIds(entry.id, last) <= 0) continue;
          last = entry.id;
          subscriber.next({ id: entry.id, type: 'revocation', data: entry.event });
        }
      };
      // `id: 0-0`: resuming from it means "from what is kept", which is what the client now holds.
      if (reset) subscriber.next({ id: FEED_START, type: 'reset', data: { reason: 'position not kept; everything kept follows' } });
      send(backlog);
      send(live);
      // A comment at once after what was kept: a verifier knows it has caught up without waiting
      // for the first heartbeat (it serves again only then).
      subscriber.next({ comment: 'caught-up' });
      push = send;
      end = () => subscriber.complete();
      if (lost) subscriber.complete();
      const heartbeat = setInterval(() => subscriber.next({ comment: 'hb' }), HEARTBEAT_MS);
      const stop = this.shutdown.subscribe(() => subscriber.complete());
      return () => {
        clearInterval(heartbeat);
        stop.unsubscribe();
        this.log.unfollow(listeners);
      };
    });
  }

  private async readAll(after: string): Promise<FeedEntry[]> {
    const all: FeedEntry[] = [];
    for (let cursor = after; ;) {
      const page = await this.log.range(cursor, PAGE);
      all.push(...page);
      if (page.length < PAGE) return all;
      cursor = page[page.length - 1].id;
    }
  }

  /** Ends every open stream before the HTTP server closes (it would wait for them). */
  beforeApplicationShutdown(): void {
    this.closing = true;
    this.shutdown.next();
  }
}
