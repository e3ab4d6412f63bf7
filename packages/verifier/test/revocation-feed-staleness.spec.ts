import { afterEach, beforeEach, describe, expect, it } from '@jest/globals';
import { RevocationFeed } from '../src/revocation-feed.js';
import { resolveOptions } from '../src/options.js';
import { CLIENT_ID, CLIENT_SECRET, FakeTessera } from './fake-tessera.js';

const quiet = { log: () => undefined, warn: () => undefined, error: () => undefined };

async function until(what: string, check: () => boolean, timeoutMs = 15_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for: ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
}

describe('RevocationFeed staleness', () => {
  let tessera: FakeTessera;
  let feed: RevocationFeed | undefined;

  beforeEach(async () => {
    tessera = new FakeTessera();
    await tessera.start();
  });
  afterEach(async () => {
    await feed?.stop();
    feed = undefined;
    await tessera.stop();
  });

  // The feed itself (below the option clamp): a connection that stays open but sends nothing is not
  // fresh once maxStalenessMs has passed, even though its watchdog has not fired and it still counts as connected.
  it('a connected but silent feed is not fresh after maxStalenessMs, whatever its watchdog', async () => {
    feed = new RevocationFeed({
      url: `${tessera.url}/auth/revocations`,
      clientId: CLIENT_ID,
      clientSecret: CLIENT_SECRET,
      fetch: globalThis.fetch.bind(globalThis),
      maxStalenessMs: 300,
      watchdogMs: 60_000,
      reconnectMinDelayMs: 20,
      reconnectMaxDelayMs: 200,
      logger: quiet,
      onRevocation: () => undefined,
    });
    feed.start();
    await feed.caughtUp();
    expect(feed.isFresh()).toBe(true);
    tessera.silent = true;
    await until('stale', () => !feed!.isFresh());
    expect(feed.status().connected).toBe(true);
    tessera.silent = false;
    await until('fresh again on the next heartbeat', () => feed!.isFresh());
  });

  it('clamps feedWatchdogMs to maxStalenessMs, and defaults it below a small maxStalenessMs', () => {
    const base = { tesseraUrl: 'http://127.0.0.1:1', clientId: 'a', clientSecret: 'b' };
    expect(resolveOptions({ ...base, maxStalenessMs: 1000, feedWatchdogMs: 20_000 }, quiet).feedWatchdogMs).toBe(1000);
    expect(resolveOptions({ ...base, maxStalenessMs: 2000 }, quiet).feedWatchdogMs).toBe(2000);
    expect(resolveOptions(base, quiet).feedWatchdogMs).toBe(3000);
  });
});
