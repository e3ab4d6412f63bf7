/**
 * Admission control for expensive work: at most `concurrency` tasks run at once, at most `queue`
 * more wait (first come, first served), and anything beyond is refused at once with `onFull()`'s
 * error instead of piling up.
 *
 * Written here rather than taken from p-limit (only a transitive dependency here): p-limit's
 * queue is unbounded, and refusing early is the whole point.
 */
export class Admission {
  private running = 0;
  private readonly waiting: (() => void)[] = [];

  constructor(
    private readonly concurrency: number,
    private readonly queue: number,
    private readonly onFull: () => Error,
  ) {}

  async run<T>(task: () => Promise<T>): Promise<T> {
    if (this.running >= this.concurrency) {
      if (this.waiting.length >= this.queue) throw this.onFull();
      // The slot is handed over by release(): `running` stays counted across the hand-over.
      await new Promise<void>((resolve) => this.waiting.push(resolve));
    } else {
      this.running++;
    }
    try {
      return await task();
    } finally {
      this.release();
    }
  }

  private release(): void {
    const next = this.waiting.shift();
    if (next) next();
    else this.running--;
  }
}
