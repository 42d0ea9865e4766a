// A wake-up flag for async loops: notify() before wait() is remembered, so no wake-up is lost
// between a loop deciding to sleep and going to sleep.
export class Signal {
  private notified = false;
  private readonly waiters = new Set<() => void>();

  notify(): void {
    if (this.waiters.size === 0) {
      this.notified = true;
      return;
    }
    for (const wake of [...this.waiters]) wake();
  }

  /** Resolves at the next notify() (or at once if one came since the last wait), or on timeout. */
  wait(timeoutMs?: number): Promise<void> {
    if (this.notified) {
      this.notified = false;
      return Promise.resolve();
    }
    return new Promise((resolve) => {
      let timer: NodeJS.Timeout | undefined;
      const wake = (): void => {
        clearTimeout(timer);
        this.waiters.delete(wake);
        resolve();
      };
      if (timeoutMs !== undefined) timer = setTimeout(wake, timeoutMs);
      this.waiters.add(wake);
    });
  }
}
