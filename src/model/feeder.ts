import type { Act, PlanBuilder } from '../scheduler/plan.ts';
import { additiveMask, type InputTensor } from './inputs.ts';

/** One input of a plan: where its data goes and the data itself. */
export interface Feed {
  act: Act;
  data: Float32Array | Uint32Array;
}

/**
 * Records inputs and masks into a plan being built, remembering the data to feed on each run. What it records
 * (names, shapes, masks that are causal) is the input part of the plan's cache key.
 */
export class Feeder {
  readonly feeds: Feed[] = [];
  readonly key: string[] = [];

  constructor(readonly b: PlanBuilder) {}

  tensor(name: string, shape: number[], data: Float32Array | Uint32Array): Act {
    const act = this.b.input(shape, name, data instanceof Uint32Array);
    this.feeds.push({ act, data });
    this.key.push(`${name}[${shape}]`);
    return act;
  }

  /** A PyTorch attn mask or key-padding mask: undefined when absent, `causal` when it is exactly the causal mask. */
  mask(name: string, t: InputTensor | undefined, shapes: number[][]): { act?: Act; causal: boolean } {
    if (!t) return { causal: false };
    const m = additiveMask(name, t, shapes);
    if (m.causal) {
      this.key.push(`${name}:causal`);
      return { causal: true };
    }
    return { act: this.tensor(name, m.shape, m.data), causal: false };
  }
}
