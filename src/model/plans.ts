import type { HookObserver } from '../hooks/observer.ts';
import type { Plan } from '../scheduler/compile.ts';
import type { GradOutputs } from './grad.ts';

/** A compiled plan with the observer that reads its captures and, for a gradient plan, what its backward returns. */
export interface CachedPlan {
  plan: Plan;
  observer?: HookObserver;
  grad?: GradOutputs;
}

/** Compiled plans by key (inputs, hooks, kernels, gradient request); the least recently used beyond `size` are disposed. */
export class PlanCache {
  private readonly plans = new Map<string, CachedPlan>();

  constructor(readonly size = 16) {}

  /** The plan under `key`, now the most recently used; or undefined. */
  get(key: string): CachedPlan | undefined {
    const entry = this.plans.get(key);
    if (entry) {
      this.plans.delete(key);
      this.plans.set(key, entry);
    }
    return entry;
  }

  set(key: string, entry: CachedPlan): void {
    while (this.plans.size >= this.size) {
      const [oldest, old] = this.plans.entries().next().value!;
      old.plan.dispose();
      this.plans.delete(oldest);
    }
    this.plans.set(key, entry);
  }

  dispose(): void {
    for (const p of this.plans.values()) p.plan.dispose();
    this.plans.clear();
  }
}
