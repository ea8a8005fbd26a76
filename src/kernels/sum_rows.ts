import type { GpuContext } from '../gpu/context.ts';
import source from '../../shaders/sum_rows.wgsl?raw';
import { type Dispatch, grid1d } from './dispatch.ts';
import { dispatchKernel, kernel } from './kernel.ts';

export const SUM_ROWS = kernel({
  name: 'sum_rows',
  source,
  bindings: { x: 'read T', y: 'write T', p: 'uniform' },
  uniforms: { rows: 'u32', n: 'u32' },
  defines: ['VEC4'],
});

/** A row-major [rows, n] matrix, summed over its rows. */
export interface SumRowsShape {
  rows: number;
  n: number;
}

/** Units (columns, or vec4s of columns) per workgroup, most row lanes, rows per lane per chunk. */
const UC = 16;
const MAX_RL = 16;
const CH = 64;

/** Row lanes: a power of two, at most MAX_RL and at most rows (idle lanes would still pay for the barriers). */
function rowLanes(rows: number): number {
  let rl = 1;
  while (rl * 2 <= Math.min(rows, MAX_RL)) rl *= 2;
  return rl;
}

/**
 * y[n] = Σ_rows x[rows, n]: column sums, e.g. a Linear's bias gradient db = Σ_m dY[m, :].
 * Deterministic (fixed order, no atomics) and accurate over many rows: 16 row lanes per column (fewer for
 * fewer than 16 rows), each summing chunks of 64 of its rows into a partial before adding it to its total, the
 * lanes added as a tree.
 * y must be a buffer of its own (not x).
 */
export async function sumRows(ctx: GpuContext, bufs: { x: GPUBufferBinding; y: GPUBufferBinding }, shape: SumRowsShape, label = 'sum_rows'): Promise<Dispatch> {
  const { rows, n } = shape;
  for (const [k, v] of [['rows', rows], ['n', n]] as const) {
    if (!Number.isInteger(v) || v < 1) throw new Error(`${label}: ${k} = ${v} is not a positive integer`);
  }
  const vec4 = n % 4 === 0;
  const units = vec4 ? n / 4 : n;
  return dispatchKernel(ctx, SUM_ROWS, label, {
    bufs,
    need: { x: rows * n, y: n },
    params: { rows, n: units },
    defines: { VEC4: vec4 },
    constants: { UC, RL: rowLanes(rows), CH },
    workgroups: grid1d(ctx, Math.ceil(units / UC)),
  });
}

/** CPU reference: column sums in f64, rounded to f32. */
export function sumRowsRef(x: Float32Array, shape: SumRowsShape): Float32Array {
  const { rows, n } = shape;
  if (x.length < rows * n) throw new Error(`sumRowsRef: x has ${x.length} elements, the shape [${rows}, ${n}] needs ${rows * n}`);
  const acc = new Float64Array(n);
  for (let r = 0; r < rows; r++) for (let c = 0; c < n; c++) acc[c] += x[r * n + c];
  return Float32Array.from(acc);
}
