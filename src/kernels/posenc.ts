import type { GpuContext } from '../gpu/context.ts';
import source from '../../shaders/posenc.wgsl?raw';
import { type Dispatch, grid1d } from './dispatch.ts';
import { dispatchKernel, kernel } from './kernel.ts';

export const POSENC = kernel({
  name: 'posenc',
  source,
  bindings: { x: 'read T if !INPLACE', pe: 'read T if PE', out: 'write T inplace INPLACE', p: 'uniform' },
  // zero is always 0: the rounding barrier (see posenc.wgsl).
  uniforms: { n: 'u32', C: 'u32', L: 'u32', posDiv: 'u32', posOffset: 'u32', scale: 'f32', zero: 'u32' },
  defines: ['INPLACE', 'PE', 'VEC4'],
});

/**
 * x is [B, L, C] when batchFirst, else [L, B, C] (nn.Transformer's default layout). Position l of the
 * sequence gets PE[l + posOffset] (posOffset: tokens already decoded, for incremental decoding).
 */
export interface PosEncShape {
  B: number;
  L: number;
  C: number;
  batchFirst: boolean;
  posOffset?: number;
  /** multiplies x first (embed_scale, e.g. sqrt(d_model)); default 1. Rounded to f32, must be finite. */
  scale?: number;
}

/**
 * out = x * scale + pe[positions]; `pe` is a [maxLen, C] table from `sinusoidalTable` (or a model file's `pe`
 * buffer, or learned positions). Without `x` the step works in place on `out`.
 */
export interface PosEncBuffers {
  x?: GPUBufferBinding;
  /** absent: no positions are added, the step only scales */
  pe?: GPUBufferBinding;
  out: GPUBufferBinding;
}

const WG = 256;

/**
 * The tutorial's PE[pos, j] in f64: sin(pos * w) for even j, cos(pos * w) for odd j, w = 10000^(-2i/C),
 * i = floor(j / 2) (for odd C the last column is a sine). The tutorial builds w = exp(2i * -ln(10000) / C)
 * and the angle in f32; the angle here is exact to f64, so the tutorial's own table differs from this by
 * up to ~3e-5 at position 1000 (half an f32 ulp of the angle).
 */
export function sinusoid(pos: number, j: number, C: number): number {
  const w = Math.pow(10000, -(2 * Math.floor(j / 2)) / C);
  return j % 2 === 0 ? Math.sin(pos * w) : Math.cos(pos * w);
}

/** PE [maxLen, C] computed in f64 and rounded to f32 (error <= 3e-8): upload once, like a weight. */
export function sinusoidalTable(maxLen: number, C: number): Float32Array {
  const t = new Float32Array(maxLen * C);
  for (let c = 0; c < C; c++) {
    const w = Math.pow(10000, -(2 * Math.floor(c / 2)) / C);
    const even = c % 2 === 0;
    for (let pos = 0; pos < maxLen; pos++) t[pos * C + c] = even ? Math.sin(pos * w) : Math.cos(pos * w);
  }
  return t;
}

/** Checks the shape (and, given the table's row count maxLen, the positions against it); fills in posOffset and scale. */
export function checkPosEncShape(label: string, s: PosEncShape, maxLen?: number): Required<PosEncShape> {
  const full = { posOffset: 0, scale: 1, ...s };
  for (const k of ['B', 'L', 'C'] as const) {
    if (!Number.isInteger(full[k]) || full[k] < 1) throw new Error(`${label}: ${k} = ${full[k]} is not a positive integer`);
  }
  if (!Number.isInteger(full.posOffset) || full.posOffset < 0) throw new Error(`${label}: posOffset = ${full.posOffset} is not a non-negative integer`);
  if (typeof full.scale !== 'number' || !Number.isFinite(full.scale)) throw new Error(`${label}: scale = ${full.scale} is not finite`);
  // The f32 the shader multiplies by must be finite too (1e39 rounds to Infinity).
  if (!Number.isFinite(Math.fround(full.scale))) throw new Error(`${label}: scale = ${full.scale} overflows f32`);
  if (full.B * full.L * full.C >= 2 ** 32) throw new Error(`${label}: [${full.B}, ${full.L}, ${full.C}] exceeds 2^32 elements`);
  if (maxLen !== undefined && full.posOffset + full.L > maxLen) {
    throw new Error(`${label}: positions ${full.posOffset}..${full.posOffset + full.L - 1} exceed the ${maxLen}-position encoding table`);
  }
  return full;
}

/**
 * out = x * scale + pe[position] (pe absent: x * scale only). Without `x`, in place on `out`. `maxLen` is pe's
 * row count (its binding holds maxLen * C floats); it is checked only when pe is given.
 */
export async function posEnc(ctx: GpuContext, bufs: PosEncBuffers, shape: PosEncShape, maxLen: number, label = 'posenc'): Promise<Dispatch> {
  const s = checkPosEncShape(label, shape, bufs.pe ? maxLen : undefined);
  const n = s.B * s.L * s.C;
  if (bufs.x && bufs.x.buffer === bufs.out.buffer) throw new Error(`${label}: x and out are the same buffer; omit x to work in place`);
  const vec4 = s.C % 4 === 0;
  const unit = vec4 ? 4 : 1;
  return dispatchKernel(ctx, POSENC, label, {
    bufs,
    need: { x: n, pe: maxLen * s.C, out: n },
    params: { n: n / unit, C: s.C / unit, L: s.L, posDiv: s.batchFirst ? 1 : s.B, posOffset: s.posOffset, scale: s.scale, zero: 0 },
    defines: { VEC4: vec4 },
    constants: { WG },
    workgroups: grid1d(ctx, Math.ceil(n / unit / WG)),
  });
}

/**
 * CPU reference, rounding as PyTorch's `embed(src) * scale + pe` does in f32: the scale is rounded to f32 (a Python
 * scalar times an f32 tensor), the product x * scale rounded to f32 (its own kernel), then PE from `sinusoid` in
 * f64 added and the sum rounded to f32 once. The GPU rounds the product too (the shader keeps a compiler from
 * fusing it into an FMA) but adds the f32 table, so the two are at most 1 ulp of the result plus the table's
 * rounding (2^-25) apart. withPe false: x * scale rounded once, which the GPU matches bit for bit.
 */
export function posEncRef(x: Float32Array, shape: PosEncShape, withPe = true): Float32Array {
  const { B, L, C, batchFirst, posOffset = 0 } = shape;
  const scale = Math.fround(shape.scale ?? 1);
  const out = new Float32Array(B * L * C);
  for (let b = 0; b < B; b++) {
    for (let l = 0; l < L; l++) {
      const base = (batchFirst ? b * L + l : l * B + b) * C;
      for (let c = 0; c < C; c++) {
        const scaled = Math.fround(x[base + c] * scale);
        out[base + c] = withPe ? scaled + sinusoid(l + posOffset, c, C) : scaled;
      }
    }
  }
  return out;
}
