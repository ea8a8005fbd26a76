import type { GpuContext } from '../gpu/context.ts';
import type { Dispatch } from '../kernels/dispatch.ts';

/**
 * An activation: a value a plan produces or consumes, not yet tied to a buffer. The scheduler gives it a
 * slot (a pooled GPU buffer) for its lifetime only, so activations that never live at the same time share.
 */
export interface Act {
  readonly id: number;
  /** f32 elements. */
  readonly size: number;
  /** Shape for readers and capture; row-major. */
  readonly shape: readonly number[];
  readonly label: string;
}

/** Resolves an activation (or a fixed buffer such as a weight) to what a kernel binds. */
export type Resolve = (a: Act) => GPUBufferBinding;

/** One recorded kernel call: what it reads and writes, and how to make its Dispatch once buffers are known. */
export interface Step {
  label: string;
  /** The module path that recorded it (profiling, hooks). */
  module: string;
  reads: readonly Act[];
  writes: readonly Act[];
  make: (resolve: Resolve) => Promise<Dispatch>;
}

/** Where a module's forward began and ended in the step list, with its real inputs and outputs. */
export interface ModuleCall {
  path: string;
  /** Step index of the module's first step, and one past its last. */
  begin: number;
  end: number;
  inputs: readonly Act[];
  outputs: readonly Act[];
}

/**
 * Records a forward pass as data: activations, steps, module boundaries. Modules call `act` and `step`;
 * `module` brackets a sub-module's recording. The result is compiled once by `compilePlan`.
 */
export class PlanBuilder {
  readonly acts: Act[] = [];
  readonly steps: Step[] = [];
  readonly calls: ModuleCall[] = [];
  readonly inputs: Act[] = [];
  readonly outputs: Act[] = [];
  private readonly stack: string[] = [];

  constructor(readonly ctx: GpuContext) {}

  /** A new activation of the given shape. */
  act(shape: readonly number[], label: string): Act {
    const size = shape.reduce((a, b) => a * b, 1);
    if (!Number.isInteger(size) || size < 1) throw new Error(`activation ${label}: bad shape [${shape.join(', ')}]`);
    const a: Act = { id: this.acts.length, size, shape: [...shape], label };
    this.acts.push(a);
    return a;
  }

  /** An activation filled from the CPU before the plan runs (model inputs, masks). */
  input(shape: readonly number[], label: string): Act {
    const a = this.act(shape, label);
    this.inputs.push(a);
    return a;
  }

  /** Marks activations to be read back after the plan runs. */
  output(...acts: Act[]): void {
    this.outputs.push(...acts);
  }

  get path(): string {
    return this.stack[this.stack.length - 1] ?? '';
  }

  step(label: string, reads: readonly Act[], writes: readonly Act[], make: Step['make']): void {
    this.steps.push({ label: this.path ? `${this.path}: ${label}` : label, module: this.path, reads, writes, make });
  }

  /** Records `body` as the forward of the module at `path` (its inputs are `inputs`, its outputs what it returns). */
  async module<T extends Act | Act[]>(path: string, inputs: readonly Act[], body: () => Promise<T>): Promise<T> {
    this.stack.push(path);
    const begin = this.steps.length;
    try {
      const out = await body();
      this.calls.push({ path, begin, end: this.steps.length, inputs, outputs: Array.isArray(out) ? out : [out] });
      return out;
    } finally {
      this.stack.pop();
    }
  }
}
