import { describe, expect, test } from '@jest/globals';
import type { MessageEvent } from '@nestjs/common';
import type { Observable } from 'rxjs';
import { ProblemException } from '../common/problems/problem.js';
import type { RevocationEvent } from './revocation-event.js';
import { RevocationFeedService } from './revocation-feed.service.js';
import { type FeedListeners, MemoryRevocationLog } from './revocation-log.js';

const ended = (sid: string): RevocationEvent => ({ type: 'session', sid, sub: 'u', until: 1 });

/** Collects what a stream sends until `count` events arrived (heartbeats ignored), or it completes. */
function collect(stream: Observable<MessageEvent>) {
  const seen: MessageEvent[] = [];
  let completed = false;
  const subscription = stream.subscribe({ next: (m) => m.type && seen.push(m), complete: () => (completed = true) });
  return { seen, isCompleted: () => completed, stop: () => subscription.unsubscribe() };
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
    log.append([ended('c')]);
    expect(stream.seen.map((m) => (m.data as { sid: string }).sid)).toEqual(['a', 'b', 'c']);
    stream.stop();
  });

  test('the live tail lost before the stream started: the stream ends at once instead of idling on heartbeats', async () => {
    const log = new MemoryRevocationLog(60_000);
    let listeners: FeedListeners | undefined;
    const follow = log.follow.bind(log);
    log.follow = async (l) => {
      listeners = l;
      return follow(l);
    };
    const opened = await new RevocationFeedService(log).open(undefined);
    listeners!.down();
    const stream = collect(opened);
    expect(stream.isCompleted()).toBe(true);
  });

  test('reset for a position not kept, resume after a kept one, 400 for a malformed one; shutdown ends streams', async () => {
    const log = new MemoryRevocationLog(60_000);
    log.append([ended('a'), ended('b')]);
    const [first] = await log.range('0-0', 1);
    const service = new RevocationFeedService(log);
    const resumed = collect(await service.open(first.id));
    expect(resumed.seen.map((m) => m.type)).toEqual(['revocation']);
    const reset = collect(await service.open('1-0'));
    expect(reset.seen.map((m) => m.type)).toEqual(['reset', 'revocation', 'revocation']);
    await expect(service.open('nope')).rejects.toBeInstanceOf(ProblemException);
    service.beforeApplicationShutdown();
    expect(resumed.isCompleted() && reset.isCompleted()).toBe(true);
    await expect(service.open(undefined)).rejects.toBeInstanceOf(ProblemException);
  });
});
