import type { GpuContext } from '../gpu/context.ts';
import source from '../../shaders/rope.wgsl?raw';
import { type Dispatch, grid1d } from './dispatch.ts';
import { dispatchKernel, kernel } from './kernel.ts';

export const ROPE = kernel({
  name: 'rope',
  source,
  bindings: { x: 'read', pos: 'read u32', table: 'read', y: 'write', p: 'uniform' },
  uniforms: { n: 'u32', heads: 'u32', D: 'u32', P: 'u32', sign: 'f32' },
  defines: [],
});

/** Rows of `heads` heads of head dim D (even), and a cos / sin table for positions 0..P-1. */
export interface RopeShape {
  rows: number;
  heads: number;
  D: number;
  P: number;
  /** true: rotate by -angle, the transpose (the backward: dx from dy). */
  inverse?: boolean;
}

/**
 * HF's default inverse frequencies (modeling_rope_utils.py _compute_default_rope_parameters):
 * inv_freq[j] = 1 / theta^(2j / D), each step rounded to f32 as torch computes it.
 */
export function ropeInvFreq(theta: number, D: number): Float32Array {
  return Float32Array.from({ length: D / 2 }, (_, j) => Math.fround(1 / Math.fround(theta ** Math.fround((2 * j) / D))));
}

/**
 * The (cos, sin) table [P, D/2, 2] of angle fround(p · inv_freq[j]) (LlamaRotaryEmbedding.forward: the product and
 * its cos / sin in f32), computed in f64 and rounded.
 */
export function ropeTable(invFreq: Float32Array, P: number): Float32Array {
  const half = invFreq.length;
  const t = new Float32Array(P * half * 2);
  for (let p = 0; p < P; p++) {
    for (let j = 0; j < half; j++) {
      const a = Math.fround(p * invFreq[j]);
      t[(p * half + j) * 2] = Math.cos(a);
      t[(p * half + j) * 2 + 1] = Math.sin(a);
    }
  }
  return t;
}

function check(label: string, s: RopeShape): void {
  for (const k of ['rows', 'heads', 'D', 'P'] as const) {
    if (!Number.isInteger(s[k]) || s[k] < 1) throw new Error(`${label}: ${k} = ${s[k]} is not a positive integer`);
  }
  if (s.D % 2 !== 0) throw new Error(`${label}: head dim D = ${s.D} is odd; rotate-half needs an even head dim`);
  if (s.rows * s.heads * s.D >= 2 ** 32) throw new Error(`${label}: rows * heads * D does not fit 32-bit indexing`);
}

/**
 * y = the rows of x rotated per head by their position's angles (HF's rotate-half layout), or rotated back with
 * `inverse` (the backward). `pos` holds each row's position (u32, < P: checked on the CPU by whoever fills it).
 */
export async function rope(
  ctx: GpuContext,
  bufs: { x: GPUBufferBinding; pos: GPUBufferBinding; table: GPUBufferBinding; y: GPUBufferBinding },
  shape: RopeShape,
  label = 'rope',
): Promise<Dispatch> {
  check(label, shape);
  const { rows, heads, D, P } = shape;
  const n = (rows * heads * D) / 2;
  return dispatchKernel(ctx, ROPE, label, {
    bufs,
    need: { x: 2 * n, pos: rows, table: P * D, y: 2 * n },
    params: { n, heads, D, P, sign: shape.inverse ? -1 : 1 },
    constants: { WG: 64 },
    workgroups: grid1d(ctx, Math.ceil(n / 64)),
  });
}

/** CPU reference: HF's x·cos + rotate_half(x)·sin per head from the same table (products in f64, rounded to f32). */
export function ropeRef(x: Float32Array, pos: Uint32Array, table: Float32Array, shape: RopeShape): Float32Array {
  const { rows, heads, D, P } = shape;
  const half = D / 2;
  const sign = shape.inverse ? -1 : 1;
  const y = new Float32Array(rows * heads * D);
  for (let r = 0; r < rows; r++) {
    if (pos[r] >= P) throw new Error(`ropeRef: position ${pos[r]} of row ${r} is past the table's ${P}`);
    for (let h = 0; h < heads; h++) {
      const base = (r * heads + h) * D;
      for (let j = 0; j < half; j++) {
        const c = table[(pos[r] * half + j) * 2];
        const s = sign * table[(pos[r] * half + j) * 2 + 1];
        const [x1, x2] = [x[base + j], x[base + j + half]];
        y[base + j] = x1 * c - x2 * s;
        y[base + j + half] = x2 * c + x1 * s;
      }
    }
  }
  return y;
}
