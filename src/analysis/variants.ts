// Batched variants: the batch dimension of one forward carries the variants of a sweep (patched sites, ablated heads,
// integration steps), each a copy of the same inputs. Here: tiling inputs along their batch axis, where a (variant,
// position) lands among an activation's rows, and how many variants one forward may carry.
import type { HookRecord } from '../hooks/registry.ts';
import { KEEP } from '../kernels/patch_rows.ts';
import type { Model } from '../model/model.ts';
import { InputError, type InputTensor, type ModelInputs } from '../model/inputs.ts';

/** Masks without a batch axis: attn masks [L, S] (a 3-D one is [B·H, L, S], batch-major). */
const UNBATCHED_2D = new Set(['src_mask', 'tgt_mask', 'memory_mask']);

/** The batch axis of an input, or undefined when it has none (a 2-D attn mask). */
export function batchAxis(name: string, shape: readonly number[], batchFirst: boolean): number | undefined {
  if (UNBATCHED_2D.has(name)) return shape.length === 3 ? 0 : undefined;
  if (name === 'src' || name === 'tgt' || name === 'memory') return batchFirst ? 0 : 1;
  return 0;
}

/** The inputs' batch size (every batched input must agree); a 3-D attn mask counts B·H rows and is not asked. */
export function batchOf(model: Model, inputs: ModelInputs, who: string): number {
  let B: number | undefined;
  for (const [name, t] of Object.entries(inputs)) {
    if (!t || UNBATCHED_2D.has(name)) continue;
    const axis = batchAxis(name, t.shape, model.batchFirst)!;
    const n = t.shape[axis];
    if (B !== undefined && n !== B) throw new InputError(`${who}: input ${name} has batch ${n}, another input has ${B}`);
    B = n;
  }
  if (B === undefined) throw new InputError(`${who}: no batched input given (expected some of ${model.inputNames.join(', ')})`);
  return B;
}

/** The inputs repeated `k` times along their batch axes: variant v's copy of row n is batch row v·N + n. */
export function tileInputs(inputs: ModelInputs, k: number, batchFirst: boolean): ModelInputs {
  const out: ModelInputs = {};
  for (const [name, t] of Object.entries(inputs)) {
    if (!t) continue;
    const axis = batchAxis(name, t.shape, batchFirst);
    out[name] = axis === undefined ? t : tile(t, axis, k);
  }
  return out;
}

/** `t` repeated k times along `axis`: each block of the dims from `axis` on is written k times in a row. */
export function tile(t: InputTensor, axis: number, k: number): InputTensor {
  const outer = t.shape.slice(0, axis).reduce((a, b) => a * b, 1);
  const block = t.shape.slice(axis).reduce((a, b) => a * b, 1);
  // Callers may hand plain arrays (forward accepts them): those tile as Float64Array, which every input reader takes.
  // (Typed as one array kind: subarray / set copy any typed array into a new one of its own kind.)
  const src = (ArrayBuffer.isView(t.data) ? t.data : Float64Array.from(t.data as ArrayLike<number>)) as Float64Array;
  const data = new (src.constructor as new (n: number) => typeof src)(outer * block * k);
  for (let o = 0; o < outer; o++) for (let v = 0; v < k; v++) data.set(src.subarray(o * block, (o + 1) * block), (o * k + v) * block);
  return { ...t, shape: t.shape.map((d, i) => (i === axis ? d * k : d)), data } as InputTensor;
}

/** Row of batch row `b` at position `l` in a [B, L, ·] (batch first) or [L, B, ·] activation. */
export function rowOf(batchFirst: boolean, B: number, L: number, b: number, l: number): number {
  return batchFirst ? b * L + l : l * B + b;
}

/**
 * How many variants one forward carries: at most `max` (the caller's cap), `count` (what there is) and what keeps a
 * variant's largest buffers (`bytesPerVariant`) within the device's storage binding limit and the read-back budget.
 */
export function variantsPerForward(model: Model, count: number, bytesPerVariant: number, max = 64): number {
  if (!Number.isInteger(max) || max < 1) throw new InputError(`maxBatch ${max} is not a positive integer`);
  const limit = Math.min(model.ctx.limits.maxStorageBufferBindingSize, model.captureBudgetBytes);
  return Math.max(1, Math.min(max, count, Math.floor(limit / Math.max(1, bytesPerVariant))));
}

/** Runs `body(chunk, first)` over [0, count) in chunks of `per`, the last one padded to `per` (one plan serves all). */
export async function inChunks(count: number, per: number, body: (first: number, n: number) => Promise<void>): Promise<void> {
  for (let first = 0; first < count; first += per) await body(first, Math.min(per, count - first));
}

let tags = 0;
/** A hook name no user registration takes: analyses register and remove their own hooks around their forwards. */
export function analysisTag(what: string): string {
  return `__${what}#${tags++}`;
}

/**
 * One forward of `inputs` that also records each module's inputs and outputs (with site 'heads', an attention
 * module's merged heads [.., H·D] as its output); the hooks it registers are gone when it returns.
 */
export async function forwardWithCaptures(
  model: Model,
  inputs: ModelInputs,
  modules: readonly string[],
  site?: 'heads',
): Promise<{ output: Float32Array; shape: number[]; records: HookRecord[] }> {
  const tag = analysisTag('capture');
  const names = modules.map((_, i) => `${tag}.${i}`);
  try {
    modules.forEach((m, i) => model.setForwardHook(names[i], m, undefined, site ? { site } : {}));
    const { output, shape } = await model.forward(inputs);
    return { output, shape, records: names.map((n) => model.hooks[n]) };
  } finally {
    for (const n of names) if (model.hookNames().includes(n)) model.delHook(n);
  }
}

/**
 * Registers a patchRows intervention per module (index all KEEP to start), runs `body`, and removes them whatever
 * happens. `write(i, index, values?)` gives module i's patch its index (and values) for the next forward.
 */
export async function withRowPatches<T>(
  model: Model,
  patches: readonly { module: string; at: 'output' | 'heads'; segment: number; segments: number; values: Float32Array }[],
  body: (write: (i: number, index: Uint32Array, values?: Float32Array) => void) => Promise<T>,
): Promise<T> {
  const tag = analysisTag('patch');
  const names = patches.map((_, i) => `${tag}.${i}`);
  try {
    patches.forEach((p, i) => model.patchRows(names[i], p.module, { at: p.at, segment: p.segment, values: p.values, index: new Uint32Array(p.segments).fill(KEEP) }));
    return await body((i, index, values) => model.writeRows(names[i], index, values));
  } finally {
    for (const n of names) if (model.hookNames().includes(n)) model.delHook(n);
  }
}
