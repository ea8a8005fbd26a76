// The page's tasks on the model, one at a time: runs, model swaps, profiles, causal analyses. A request made while a
// task runs waits its turn (it is never dropped); a newer request of the same key replaces a waiting one, and a model
// swap replaces waiting runs (its own first run follows it). Background work (relevance rows) is suspended before
// each task and resumed once nothing waits.

export interface Background {
  /** Stop after the step in flight; resume() continues. */
  suspend(): Promise<void>;
  resume(): void;
}

interface Waiting {
  key: string;
  task: () => Promise<void>;
  /** Called instead of the task when a newer request replaces it. */
  dropped?: () => void;
}

export class PageTasks {
  private runningKey?: string;
  private readonly waiting: Waiting[] = [];

  constructor(
    /** The background work of the moment (the current analysis's relevance rows), if any. */
    private readonly background: () => Background | undefined,
    /** Called whenever a task starts or ends, or the queue changes. */
    private readonly onChange: () => void,
  ) {}

  /** A task is running. */
  get busy(): boolean {
    return this.runningKey !== undefined;
  }

  /** Keys of the running task and the waiting ones, in order. */
  get keys(): string[] {
    return [...(this.runningKey ? [this.runningKey] : []), ...this.waiting.map((w) => w.key)];
  }

  /** Requests waiting behind the running task. */
  get queued(): number {
    return this.waiting.length;
  }

  /**
   * Runs `task` now, or after the tasks before it. A waiting request with the same key, or with a key in `replaces`,
   * is dropped (its `dropped` is called): the newest request wins. Resolves when the task has run (or was dropped).
   */
  request(key: string, task: () => Promise<void>, o: { replaces?: readonly string[]; dropped?: () => void } = {}): Promise<void> {
    return new Promise<void>((resolve) => {
      const gone = new Set([key, ...(o.replaces ?? [])]);
      for (let i = this.waiting.length - 1; i >= 0; i--) {
        if (!gone.has(this.waiting[i].key)) continue;
        const [w] = this.waiting.splice(i, 1);
        w.dropped?.();
      }
      this.waiting.push({
        key,
        task: () => task().finally(resolve),
        dropped: () => {
          o.dropped?.();
          resolve();
        },
      });
      this.onChange();
      if (!this.busy) void this.pump();
    });
  }

  /** Runs `task` only when nothing runs or waits (a button's action on the results shown); else does nothing. */
  whenIdle(key: string, task: () => Promise<void>): Promise<void> {
    if (this.busy || this.waiting.length) return Promise.resolve();
    return this.request(key, task);
  }

  private async pump(): Promise<void> {
    while (this.waiting.length) {
      const next = this.waiting.shift()!;
      this.runningKey = next.key;
      try {
        await this.background()?.suspend();
        this.onChange();
        await next.task();
      } catch (e) {
        // a task reports its own errors; one that escapes must not stop the queue
        console.error(e);
      } finally {
        this.runningKey = undefined;
      }
    }
    this.onChange();
    this.background()?.resume();
  }
}
