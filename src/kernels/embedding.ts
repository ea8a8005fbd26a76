import type { GpuContext } from '../gpu/context.ts';
import source from '../../shaders/embedding.wgsl?raw';
import { type Dispatch, grid1d } from './dispatch.ts';
import { dispatchKernel, kernel } from './kernel.ts';

export const EMBEDDING = kernel({
  name: 'embedding',
  source,
  bindings: { ids: 'read u32', table: 'read T', out: 'write T', p: 'uniform' },
  uniforms: { n: 'u32', C: 'u32', vocab: 'u32' },
  defines: ['VEC4'],
});

/** n token ids looked up in a [vocab, C] table (rows copied as stored: embed_scale belongs to `posEnc`). */
export interface EmbeddingShape {
  n: number;
  vocab: number;
  C: number;
}

/**
 * `ids` is a u32 buffer of n token ids that must have passed `checkTokenIds` on the CPU: the shader only
 * clamps ids to vocab - 1 to keep its reads in bounds, so a bad id silently yields the last row.
 */
export interface EmbeddingBuffers {
  ids: GPUBufferBinding;
  table: GPUBufferBinding;
  out: GPUBufferBinding;
}

const WG = 256;

/**
 * Checks that every id is an integer in [0, vocab) and returns them as a Uint32Array, ready to upload.
 * Throws naming `label`, the first bad index and its value.
 */
export function checkTokenIds(ids: ArrayLike<number>, vocab: number, label: string): Uint32Array {
  for (let i = 0; i < ids.length; i++) {
    const v = ids[i];
    if (!Number.isInteger(v) || v < 0 || v >= vocab) {
      throw new RangeError(`${label}: token id ${v} at index ${i} is out of range [0, ${vocab})`);
    }
  }
  return ids instanceof Uint32Array ? ids : Uint32Array.from(ids);
}

export async function embedding(ctx: GpuContext, bufs: EmbeddingBuffers, shape: EmbeddingShape, label = 'embedding'): Promise<Dispatch> {
  const { n, vocab, C } = shape;
  for (const [k, v] of Object.entries({ n, vocab, C })) {
    if (!Number.isInteger(v) || v < 1) throw new Error(`${label}: ${k} = ${v} is not a positive integer`);
  }
  // Flat indices are u32 in the shader.
  if (vocab * C >= 2 ** 32 || n * C >= 2 ** 32) throw new Error(`${label}: [${vocab}, ${C}] table or [${n}, ${C}] output exceeds 2^32 elements`);
  const vec4 = C % 4 === 0;
  const unit = vec4 ? 4 : 1;
  return dispatchKernel(ctx, EMBEDDING, label, {
    bufs,
    need: { ids: n, table: vocab * C, out: n * C },
    params: { n: (n * C) / unit, C: C / unit, vocab },
    defines: { VEC4: vec4 },
    constants: { WG },
    workgroups: grid1d(ctx, Math.ceil((n * C) / unit / WG)),
  });
}

/** CPU reference: the rows of `table` [vocab, C] named by ids, copied. */
export function embeddingRef(ids: ArrayLike<number>, table: Float32Array, C: number): Float32Array {
  const out = new Float32Array(ids.length * C);
  for (let i = 0; i < ids.length; i++) out.set(table.subarray(ids[i] * C, ids[i] * C + C), i * C);
  return out;
}
