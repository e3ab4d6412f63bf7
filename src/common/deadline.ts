interface Pending {
  at: number;
  expire: () => void;
}

/**
 * Deadlines for many short operations without a timer each: one unref'd sweep every `tickMs`
 * settles whatever has run out (within a tick of its deadline). Cheaper than a setTimeout per
 * call on the per-request path, where almost every operation finishes in microseconds.
 */
class DeadlineSweeper {
  private readonly pending = new Set<Pending>();
  private timer: NodeJS.Timeout | undefined;

  constructor(private readonly tickMs: number) {}

  /** `promise`, or whatever `onExpiry` returns/throws if it has not settled within `ms`. */
  within<T>(promise: Promise<T>, ms: number, onExpiry: () => T): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      const entry: Pending = {
        at: Date.now() + ms,
        expire: () => {
          try {
            resolve(onExpiry());
          } catch (error) {
            reject(error);
          }
        },
      };
      this.pending.add(entry);
      this.ensureTicking();
      promise.then(
        (value) => {
          this.pending.delete(entry);
          resolve(value);
        },
        (error: unknown) => {
          this.pending.delete(entry);
          // Passed on exactly as the operation failed (callers map it to 503).
          reject(error);
        },
      );
    });
  }

  private ensureTicking(): void {
    if (this.timer) return;
    this.timer = setInterval(() => {
      const now = Date.now();
      for (const entry of this.pending) {
        if (entry.at <= now) {
          this.pending.delete(entry);
          entry.expire();
        }
      }
      if (this.pending.size === 0) {
        clearInterval(this.timer);
        this.timer = undefined;
      }
    }, this.tickMs);
    this.timer.unref();
  }
}

const sweeper = new DeadlineSweeper(25);

/** Rejects with `onExpiry()`'s error, or resolves to its value, if `promise` has not settled within `ms`. */
export function within<T>(promise: Promise<T>, ms: number, onExpiry: () => T): Promise<T> {
  return sweeper.within(promise, ms, onExpiry);
}

/** Resolves to `fallback` if `promise` has not settled within `ms` (and swallows its late failure). */
export function withDeadline<T>(promise: Promise<T>, ms: number, fallback: T): Promise<T> {
  return sweeper.within(
    promise.catch(() => fallback),
    ms,
    () => fallback,
  );
}
