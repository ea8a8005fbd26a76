import type { GpuContext } from '../gpu/context.ts';
import source from '../../shaders/embedding_backward.wgsl?raw';
import { type Dispatch, grid1d } from './dispatch.ts';
import { checkTokenIds, type EmbeddingShape } from './embedding.ts';
import { dispatchKernel, kernel } from './kernel.ts';

export const EMBEDDING_BACKWARD = kernel({
  name: 'embedding_backward',
  source,
  bindings: { ids: 'read u32', dy: 'read T', dTable: 'write T', p: 'uniform' },
  uniforms: { n: 'u32', C: 'u32', vocab: 'u32', colBlocks: 'u32' },
  defines: ['VEC4'],
});

/** Most column units (threads) per workgroup, and table rows per workgroup: VB * WG vec4 accumulators are 8 KiB. */
const MAX_WG = 64;
const VB = 8;

/** Threads per workgroup: the column units rounded up to a power of two, at most MAX_WG (no idle threads for small C). */
function workgroupSize(units: number): number {
  let wg = 1;
  while (wg < Math.min(units, MAX_WG)) wg *= 2;
  return wg;
}

/**
 * dTable[v, c] = Σ_{i: ids[i] == v} dy[i, c] for every v in [0, vocab) (rows no id hits are 0):
 * the gradient of `embedding`'s table. `ids` [n] u32 (checked with checkTokenIds; an id >= vocab is clamped to
 * vocab - 1 as in the forward), dy [n, C], dTable [vocab, C] (fully overwritten).
 * Deterministic, no atomics: a workgroup owns 8 table rows x up to 64 column units (vec4s when C % 4 == 0) and
 * scans all ids in order, so ids are read ceil(vocab / 8) · ceil(C / 64 or 256) times; each dy row is read once
 * per column block.
 */
export async function embeddingBackward(
  ctx: GpuContext,
  bufs: { ids: GPUBufferBinding; dy: GPUBufferBinding; dTable: GPUBufferBinding },
  shape: EmbeddingShape,
  label = 'embedding_backward',
): Promise<Dispatch> {
  const { n, vocab, C } = shape;
  for (const [k, v] of Object.entries({ n, vocab, C })) {
    if (!Number.isInteger(v) || v < 1) throw new Error(`${label}: ${k} = ${v} is not a positive integer`);
  }
  if (vocab * C >= 2 ** 32 || n * C >= 2 ** 32) throw new Error(`${label}: [${vocab}, ${C}] table or [${n}, ${C}] gradient exceeds 2^32 elements`);
  const vec4 = C % 4 === 0;
  const units = vec4 ? C / 4 : C;
  const wg = workgroupSize(units);
  const colBlocks = Math.ceil(units / wg);
  return dispatchKernel(ctx, EMBEDDING_BACKWARD, label, {
    bufs,
    need: { ids: n, dy: n * C, dTable: vocab * C },
    params: { n, C: units, vocab, colBlocks },
    defines: { VEC4: vec4 },
    constants: { WG: wg, VB },
    workgroups: grid1d(ctx, Math.ceil(vocab / VB) * colBlocks),
  });
}

/** CPU reference: per table row the sum of its tokens' dy rows in f64, rounded to f32 once. Ids must be in [0, vocab). */
export function embeddingBackwardRef(ids: ArrayLike<number>, dy: Float32Array, shape: EmbeddingShape): Float32Array {
  const { n, vocab, C } = shape;
  if (ids.length < n || dy.length < n * C) throw new Error(`embeddingBackwardRef: ${ids.length} ids and ${dy.length} dy values, the shape needs ${n} and ${n * C}`);
  const checked = checkTokenIds(Array.prototype.slice.call(ids, 0, n) as number[], vocab, 'embeddingBackwardRef');
  const acc = new Float64Array(vocab * C);
  for (let i = 0; i < n; i++) {
    const row = checked[i] * C;
    for (let c = 0; c < C; c++) acc[row + c] += dy[i * C + c];
  }
  return Float32Array.from(acc);
}
