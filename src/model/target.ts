import { InputError } from './inputs.ts';

/**
 * The scalar a backward differentiates, as a function of the forward's output (in PyTorch's layout):
 * - `index`: one element, e.g. one logit [t, b, v];
 * - `slice`: the sum over a box, one entry per dim: an index, or [from, to) (negative counts from the end);
 * - `grad`: d(target)/d(output) itself, as `output.backward(grad)` takes it (target = Σ grad · output).
 */
export type BackwardTarget = { index: readonly number[] } | { slice: readonly (number | readonly [number, number])[] } | { grad: Float32Array };

/** The seed d(target)/d(output) for an output of `shape`, and the target's value Σ seed · output. */
export function seedFor(target: BackwardTarget, shape: readonly number[], output: Float32Array): { seed: Float32Array; value: number } {
  if (target === null || typeof target !== 'object') throw new InputError('backward: the target must be {index}, {slice} or {grad}');
  const n = output.length;
  let seed: Float32Array;
  if ('grad' in target) {
    if (!(target.grad instanceof Float32Array) || target.grad.length !== n) {
      throw new InputError(`backward: target grad must be a Float32Array of ${n} values (the output's shape [${shape.join(', ')}])`);
    }
    seed = target.grad;
  } else {
    const dims = 'index' in target ? target.index : 'slice' in target ? target.slice : undefined;
    if (!Array.isArray(dims)) throw new InputError('backward: the target must be {index}, {slice} or {grad}');
    if (dims.length !== shape.length) throw new InputError(`backward: target has ${dims.length} dims, the output [${shape.join(', ')}] has ${shape.length}`);
    const ranges = dims.map((d, k): [number, number] => {
      const size = shape[k];
      const at = (i: unknown, end: boolean): number => {
        if (typeof i !== 'number' || !Number.isInteger(i)) throw new InputError(`backward: target dim ${k}: ${String(i)} is not an integer`);
        const j = i < 0 ? i + size : i;
        if (j < 0 || j > size || (!end && j === size)) throw new InputError(`backward: target dim ${k}: ${i} is out of range for size ${size}`);
        return j;
      };
      if (typeof d === 'number') {
        const j = at(d, false);
        return [j, j + 1];
      }
      if ('index' in target) throw new InputError(`backward: target index dim ${k} must be an integer`);
      if (!Array.isArray(d) || d.length !== 2) throw new InputError(`backward: target slice dim ${k} must be an index or [from, to)`);
      const r: [number, number] = [at(d[0], true), at(d[1], true)];
      if (r[1] <= r[0]) throw new InputError(`backward: target slice dim ${k}: [${d[0]}, ${d[1]}) is empty`);
      return r;
    });
    seed = new Float32Array(n);
    const strides = shape.map((_, k) => shape.slice(k + 1).reduce((a, b) => a * b, 1));
    const fill = (k: number, off: number): void => {
      for (let i = ranges[k][0]; i < ranges[k][1]; i++) {
        if (k === shape.length - 1) seed[off + i] = 1;
        else fill(k + 1, off + i * strides[k]);
      }
    };
    fill(0, 0);
  }
  let value = 0;
  for (let i = 0; i < n; i++) if (seed[i] !== 0) value += seed[i] * output[i];
  return { seed, value };
}
