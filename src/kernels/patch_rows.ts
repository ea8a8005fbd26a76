import type { GpuContext } from '../gpu/context.ts';
import source from '../../shaders/patch_rows.wgsl?raw';
import { type Dispatch, grid1d } from './dispatch.ts';
import { dispatchKernel, kernel } from './kernel.ts';

export const PATCH_ROWS = kernel({
  name: 'patch_rows',
  source,
  bindings: { x: 'read', index: 'read u32', values: 'read', y: 'write', p: 'uniform' },
  uniforms: { n: 'u32', C: 'u32', M: 'u32' },
  defines: [],
});

/** An index entry that keeps the segment as it is. */
export const KEEP = 0xffffffff;

/** S segments of C values each; `values` holds M rows of C. */
export interface PatchRowsShape {
  S: number;
  C: number;
  M: number;
}

const WG = 256;

/**
 * y [S, C] = x, with segment s replaced by values row index[s] where index[s] != KEEP. `index` must hold S entries,
 * each KEEP or < M (checked on the CPU where the index is built: the shader clamps to M - 1 to stay in bounds).
 */
export async function patchRows(
  ctx: GpuContext,
  bufs: { x: GPUBufferBinding; index: GPUBufferBinding; values: GPUBufferBinding; y: GPUBufferBinding },
  s: PatchRowsShape,
  label = 'patch_rows',
): Promise<Dispatch> {
  for (const [k, v] of Object.entries(s)) if (!Number.isInteger(v) || v < 1) throw new Error(`${label}: ${k} = ${v} is not a positive integer`);
  const n = s.S * s.C;
  return dispatchKernel(ctx, PATCH_ROWS, label, {
    bufs,
    need: { x: n, index: s.S, values: s.M * s.C, y: n },
    params: { n, C: s.C, M: s.M },
    constants: { WG },
    workgroups: grid1d(ctx, Math.ceil(n / WG)),
  });
}

/** The index is KEEP or a row of values for every segment; throws naming the first bad entry. */
export function checkPatchIndex(index: Uint32Array, S: number, M: number, label: string): void {
  if (index.length !== S) throw new Error(`${label}: index has ${index.length} entries for ${S} segments`);
  const bad = index.findIndex((j) => j !== KEEP && j >= M);
  if (bad >= 0) throw new Error(`${label}: index[${bad}] = ${index[bad]} names no row of the ${M} value rows`);
}

/** CPU reference. */
export function patchRowsRef(x: Float32Array, index: Uint32Array, values: Float32Array, C: number): Float32Array {
  return x.map((v, i) => {
    const j = index[Math.floor(i / C)];
    return j === KEEP ? v : values[j * C + (i % C)];
  });
}
