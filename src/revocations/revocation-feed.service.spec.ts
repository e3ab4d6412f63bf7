import { describe, expect, test } from '@jest/globals';
import type { MessageEvent } from '@nestjs/common';
import type { Observable } from 'rxjs';
import { ProblemException } from '../common/problems/problem.js';
import type { RevocationEvent } from './revocation-event.js';
import { MAX_STREAMS, RevocationFeedService } from './revocation-feed.service.js';
import { type FeedListeners, MemoryRevocationLog } from './revocation-log.js';

const ended = (sid: string): RevocationEvent => ({ type: 'session', sid, sub: 'u', until: 1 });

/** Collects what a stream sends until `count` events arrived (heartbeats ignored), or it completes. */
function collect(stream: Observable<MessageEvent>) {
  const seen: MessageEvent[] = [];
  let completed = false;
  let caught = false;
  const subscription = stream.subscribe({
    next: (m) => (m.type ? seen.push(m) : m.comment === 'caught-up' && (caught = true)),
    complete: () => (completed = true),
  });
  return { seen, isCompleted: () => completed, isCaughtUp: () => caught, stop: () => subscription.unsubscribe() };
}

/** Waits (a few turns of the event loop) until the stream has sent everything kept. */
async function caughtUp(stream: { isCaughtUp: () => boolean }): Promise<void> {
  for (let i = 0; i < 1000 && !stream.isCaughtUp(); i++) await new Promise((resolve) => setImmediate(resolve));
  expect(stream.isCaughtUp()).toBe(true);
}

describe('RevocationFeedService', () => {
  test('an entry appended while the backlog is read is sent once, in order: no gap, no duplicate', async () => {
    const log = new MemoryRevocationLog(60_000);
    log.append([ended('a')]);
    // The race: a live entry lands between follow() and the backlog read, so it arrives both ways.
    const range = log.range.bind(log);
    log.range = async (after, count) => {
      log.append([ended('b')]);
      log.range = range;
      return range(after, count);
    };
    const stream = collect(await new RevocationFeedService(log).open(undefined));
    await caughtUp(stream);
    log.append([ended('c')]);
    expect(stream.seen.map((m) => (m.data as { sid: string }).sid)).toEqual(['a', 'b', 'c']);
    stream.stop();
  });

  test('the backlog is sent page by page and completely, past a full page', async () => {
    const log = new MemoryRevocationLog(60_000);
    log.append(Array.from({ length: 1234 }, (_, i) => ended(`s${i}`)));
    const stream = collect(await new RevocationFeedService(log).open(undefined));
    await caughtUp(stream);
    expect(stream.seen.length).toBe(1234);
    stream.stop();
  });

  test('the live tail lost before the stream started: the stream ends at once instead of idling on heartbeats', async () => {
    const log = new MemoryRevocationLog(60_000);
    log.follow = () => false;
    const stream = collect(await new RevocationFeedService(log).open(undefined));
    expect(stream.isCompleted()).toBe(true);
  });

  test('nothing is registered with the log until the stream is subscribed, nothing is left once it ends', async () => {
    const log = new MemoryRevocationLog(60_000);
    const registered = new Set<FeedListeners>();
    const follow = log.follow.bind(log);
    log.follow = (l) => (registered.add(l), follow(l));
    const unfollow = log.unfollow.bind(log);
    log.unfollow = (l) => (registered.delete(l), unfollow(l));
    const opened = await new RevocationFeedService(log).open(undefined);
    // A client that left before Nest subscribed: never subscribed, so nothing to clean up.
    expect(registered.size).toBe(0);
    const stream = collect(opened);
    expect(registered.size).toBe(1);
    stream.stop();
    expect(registered.size).toBe(0);
  });

  test('beyond MAX_STREAMS open streams, a new one is 503 with Retry-After until one ends', async () => {
    const log = new MemoryRevocationLog(60_000);
    const service = new RevocationFeedService(log);
    const streams: ReturnType<typeof collect>[] = [];
    try {
      for (let i = 0; i < MAX_STREAMS; i++) streams.push(collect(await service.open(undefined)));
      const refused = await service.open(undefined).then(
        (stream) => streams.push(collect(stream)),
        (error: unknown) => error,
      );
      expect(refused).toBeInstanceOf(ProblemException);
      expect((refused as ProblemException).getStatus()).toBe(503);
      streams.pop()!.stop();
      streams.push(collect(await service.open(undefined)));
    } finally {
      for (const stream of streams) stream.stop();
    }
  });

  test('reset for a position not kept, resume after a kept one, 400 for a malformed one; shutdown ends streams', async () => {
    const log = new MemoryRevocationLog(60_000);
    log.append([ended('a'), ended('b')]);
    const [first] = (await log.range('0-0', 1)).entries;
    const service = new RevocationFeedService(log);
    const resumed = collect(await service.open(first.id));
    await caughtUp(resumed);
    expect(resumed.seen.map((m) => m.type)).toEqual(['revocation']);
    const reset = collect(await service.open('1-0'));
    await caughtUp(reset);
    expect(reset.seen.map((m) => m.type)).toEqual(['reset', 'revocation', 'revocation']);
    await expect(service.open('nope')).rejects.toBeInstanceOf(ProblemException);
    service.beforeApplicationShutdown();
    expect(resumed.isCompleted() && reset.isCompleted()).toBe(true);
    await expect(service.open(undefined)).rejects.toBeInstanceOf(ProblemException);
  });
});
