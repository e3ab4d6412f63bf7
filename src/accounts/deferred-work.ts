import { randomInt } from 'node:crypto';
import { type BeforeApplicationShutdown, Injectable, Logger } from '@nestjs/common';

/** The window after the answer in which work for a real account happens (milliseconds). */
export const DEFERRAL_MIN_MS = 1000;
export const DEFERRAL_MAX_MS = 3000;

/**
 * Runs work some random time (1 to 3 s) after the request that asked for it. Forgot-password and
 * the public verification request answer 202 alike for every address, but only a real account
 * then costs a transaction, a sealed mail and a security event; done at once, that work slows the
 * very next request enough to tell real accounts from unknown ones (measured: 23 vs 11 ms). Done
 * at a random later moment, it no longer lines up with anything the caller sends.
 *
 * Pending work is held in memory only for those seconds; a graceful shutdown runs it at once
 * rather than drop it (a crash loses it: the user asks again).
 */
@Injectable()
export class DeferredWork implements BeforeApplicationShutdown {
  private readonly logger = new Logger('Accounts');
  private readonly pending = new Map<NodeJS.Timeout, () => Promise<void>>();
  private readonly running = new Set<Promise<void>>();

  /** Schedules `work`; `label` names it in the log line if it fails (never an address or a token). */
  later(label: string, work: () => Promise<void>): void {
    const run = () => {
      const done = work()
        .catch((error: unknown) => this.logger.warn(`${label} failed: ${(error as Error).name}: ${(error as Error).message}`))
        .finally(() => this.running.delete(done));
      this.running.add(done);
    };
    const timer = setTimeout(
      () => {
        this.pending.delete(timer);
        run();
      },
      randomInt(DEFERRAL_MIN_MS, DEFERRAL_MAX_MS + 1),
    );
    this.pending.set(timer, async () => run());
  }

  /** Before the database closes (onApplicationShutdown): the work may still write its rows. */
  async beforeApplicationShutdown(): Promise<void> {
    for (const [timer, run] of this.pending) {
      clearTimeout(timer);
      await run();
    }
    this.pending.clear();
    await Promise.all(this.running);
  }
}
