// The page's tasks on the model, one at a time: runs, model swaps, profiles, causal analyses. A request made while a
// task runs waits its turn (it is never dropped); a newer request of the same key replaces a waiting one and aborts a
// running one (its signal: a run stops between generation steps), and a model swap replaces waiting and running runs
// (its own first run follows it). Cancel aborts the running task. Background work (relevance rows) is suspended
// before each task and resumed once nothing waits.

export interface Background {
  /** Stop after the step in flight; resume() continues. */
  suspend(): Promise<void>;
  resume(): void;
}

/** A task: `signal` aborts when a newer request replaces it or the user cancels it; it should stop soon after. */
export type Task = (signal: AbortSignal) => Promise<void>;

/** Why a task's signal aborted (its reason). */
export type AbortReason = 'replaced' | 'cancelled';

interface Waiting {
  key: string;
  task: Task;
  /** Called instead of the task when a newer request replaces it. */
  dropped?: () => void;
}

export class PageTasks {
  private running?: { key: string; ctrl: AbortController };
  private readonly waiting: Waiting[] = [];

  constructor(
    /** The background work of the moment (the current analysis's relevance rows), if any. */
    private readonly background: () => Background | undefined,
    /** Called whenever a task starts or ends, or the queue changes. */
    private readonly onChange: () => void,
  ) {}

  /** A task is running. */
  get busy(): boolean {
    return this.running !== undefined;
  }

  /** Keys of the running task and the waiting ones, in order. */
  get keys(): string[] {
    return [...(this.running ? [this.running.key] : []), ...this.waiting.map((w) => w.key)];
  }

  /** Aborts the running task (reason 'cancelled'); what waits still runs. */
  cancel(): void {
    this.running?.ctrl.abort('cancelled' satisfies AbortReason);
  }

  /** Requests waiting behind the running task. */
  get queued(): number {
    return this.waiting.length;
  }

  /**
   * Runs `task` now, or after the tasks before it. A waiting request with the same key, or with a key in `replaces`,
   * is dropped (its `dropped` is called), and a running one is aborted: the newest request wins. Resolves when the
   * task has run (or was dropped).
   */
  request(key: string, task: Task, o: { replaces?: readonly string[]; dropped?: () => void } = {}): Promise<void> {
    return new Promise<void>((resolve) => {
      const gone = new Set([key, ...(o.replaces ?? [])]);
      if (this.running && gone.has(this.running.key)) this.running.ctrl.abort('replaced' satisfies AbortReason);
      for (let i = this.waiting.length - 1; i >= 0; i--) {
        if (!gone.has(this.waiting[i].key)) continue;
        const [w] = this.waiting.splice(i, 1);
        w.dropped?.();
      }
      this.waiting.push({
        key,
        task: (signal) => task(signal).finally(resolve),
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
  whenIdle(key: string, task: Task): Promise<void> {
    if (this.busy || this.waiting.length) return Promise.resolve();
    return this.request(key, task);
  }

  private async pump(): Promise<void> {
    while (this.waiting.length) {
      const next = this.waiting.shift()!;
      const ctrl = new AbortController();
      this.running = { key: next.key, ctrl };
      try {
        await this.background()?.suspend();
        this.onChange();
        await next.task(ctrl.signal);
      } catch (e) {
        // a task reports its own errors; one that escapes must not stop the queue
        console.error(e);
      } finally {
        this.running = undefined;
      }
    }
    this.onChange();
    this.background()?.resume();
  }
}
