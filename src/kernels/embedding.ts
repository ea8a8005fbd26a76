import type { GpuContext } from '../gpu/context.ts';
import { type HalfDType, roundedTo } from '../gpu/half.ts';
import source from '../../shaders/embedding.wgsl?raw';
import { type Dispatch, grid1d } from './dispatch.ts';
import { dispatchKernel, kernel } from './kernel.ts';

export const EMBEDDING = kernel({
  name: 'embedding',
  source,
  bindings: { ids: 'read u32', table: 'read TH', out: 'write T', p: 'uniform' },
  uniforms: { n: 'u32', C: 'u32', vocab: 'u32' },
  defines: ['VEC4', 'HALF', 'BF16'],
});

/** n token ids looked up in a [vocab, C] table (rows copied as stored: embed_scale belongs to `posEnc`). */
export interface EmbeddingShape {
  n: number;
  vocab: number;
  C: number;
  /** How the table is stored: f32 (default), or 16-bit floats packed two to a word (src/tensor.ts), widened exactly. */
  dtype?: 'f32' | HalfDType;
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
  const { n, vocab, C, dtype = 'f32' } = shape;
  if (!['f32', 'f16', 'bf16'].includes(dtype)) throw new Error(`${label}: table dtype ${dtype} is not f32, f16 or bf16`);
  for (const [k, v] of Object.entries({ n, vocab, C })) {
    if (!Number.isInteger(v) || v < 1) throw new Error(`${label}: ${k} = ${v} is not a positive integer`);
  }
  // Flat indices are u32 in the shader.
  if (vocab * C >= 2 ** 32 || n * C >= 2 ** 32) throw new Error(`${label}: [${vocab}, ${C}] table or [${n}, ${C}] output exceeds 2^32 elements`);
  const vec4 = C % 4 === 0;
  const unit = vec4 ? 4 : 1;
  return dispatchKernel(ctx, EMBEDDING, label, {
    bufs,
    need: { ids: n, table: dtype === 'f32' ? vocab * C : Math.ceil((vocab * C) / 2), out: n * C },
    params: { n: (n * C) / unit, C: C / unit, vocab },
    defines: { VEC4: vec4, HALF: dtype !== 'f32', BF16: dtype === 'bf16' },
    constants: { WG },
    workgroups: grid1d(ctx, Math.ceil((n * C) / unit / WG)),
  });
}

/** CPU reference: the rows of `table` [vocab, C] named by ids, copied (rounded to `dtype` first, as the kernel reads it). */
export function embeddingRef(ids: ArrayLike<number>, values: Float32Array, C: number, dtype: 'f32' | HalfDType = 'f32'): Float32Array {
  const table = dtype === 'f32' ? values : roundedTo(dtype, values);
  const out = new Float32Array(ids.length * C);
  for (let i = 0; i < ids.length; i++) out.set(table.subarray(ids[i] * C, ids[i] * C + C), i * C);
  return out;
}
