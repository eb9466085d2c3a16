// Two small concurrency tools for a daemon that must do one thing at a time.

/** Runs tasks one after another, in the order they were handed in. */
export class Serial {
  private tail: Promise<unknown> = Promise.resolve();
  private running = 0;

  run<T>(task: () => Promise<T>): Promise<T> {
    const result = this.tail.then(async () => {
      this.running++;
      try {
        return await task();
      } finally {
        this.running--;
      }
    });
    this.tail = result.catch(() => undefined);
    return result;
  }

  /** Resolves once everything handed in so far has run. */
  idle(): Promise<void> {
    return this.tail.then(() => undefined);
  }

  get busy(): boolean {
    return this.running > 0;
  }
}

/** A wake-up call: wait() resolves at the next signal() (or at once if one is pending). */
export class Wake {
  private pending = false;
  private waiter: (() => void) | undefined;

  signal(): void {
    if (this.waiter) {
      const w = this.waiter;
      this.waiter = undefined;
      w();
    } else {
      this.pending = true;
    }
  }

  wait(): Promise<void> {
    if (this.pending) {
      this.pending = false;
      return Promise.resolve();
    }
    return new Promise<void>((resolve) => {
      this.waiter = resolve;
    });
  }
}
