import type { GpuContext } from '../gpu/context.ts';
import source from '../../shaders/posenc.wgsl?raw';
import { type Dispatch, grid1d, makeDispatch } from './dispatch.ts';

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
}

/**
 * out = x + pe[positions]; `pe` is a [maxLen, C] table from `sinusoidalTable` (or a model file's `pe` buffer).
 * Without `x` the encoding is added to `out` in place.
 */
export interface PosEncBuffers {
  x?: GPUBufferBinding;
  pe: GPUBufferBinding;
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

/** Checks the shape against a table of maxLen positions and fills in posOffset. */
export function checkPosEncShape(label: string, s: PosEncShape, maxLen: number): Required<PosEncShape> {
  const full = { posOffset: 0, ...s };
  for (const k of ['B', 'L', 'C'] as const) {
    if (!Number.isInteger(full[k]) || full[k] < 1) throw new Error(`${label}: ${k} = ${full[k]} is not a positive integer`);
  }
  if (!Number.isInteger(full.posOffset) || full.posOffset < 0) throw new Error(`${label}: posOffset = ${full.posOffset} is not a non-negative integer`);
  if (full.posOffset + full.L > maxLen) {
    throw new Error(`${label}: positions ${full.posOffset}..${full.posOffset + full.L - 1} exceed the ${maxLen}-position encoding table`);
  }
  return full;
}

/** `maxLen` is the table's row count (its binding holds maxLen * C floats). */
export async function posEnc(ctx: GpuContext, bufs: PosEncBuffers, shape: PosEncShape, maxLen: number, label = 'posenc'): Promise<Dispatch> {
  const s = checkPosEncShape(label, shape, maxLen);
  if (bufs.x && bufs.x.buffer === bufs.out.buffer) throw new Error(`${label}: x and out are the same buffer; omit x to add in place`);
  const vec4 = s.C % 4 === 0;
  const unit = vec4 ? 4 : 1;
  const n = s.B * s.L * s.C;
  const pipeline = await ctx.pipelines.get({ kernel: 'posenc', source, defines: { INPLACE: !bufs.x, VEC4: vec4 }, constants: { WG } });
  const params = ctx.uniform(`${label} params`, [n / unit, s.C / unit, s.L, s.batchFirst ? 1 : s.B, s.posOffset]);
  const grid = grid1d(ctx, Math.ceil(n / unit / WG));
  return makeDispatch(ctx, label, pipeline, [bufs.x, bufs.pe, bufs.out, { buffer: params }], grid, [params]);
}

/** CPU reference: x + PE with PE from `sinusoid` in f64, the sum rounded to f32 once. */
export function posEncRef(x: Float32Array, shape: PosEncShape): Float32Array {
  const { B, L, C, batchFirst, posOffset = 0 } = shape;
  const out = new Float32Array(B * L * C);
  for (let b = 0; b < B; b++) {
    for (let l = 0; l < L; l++) {
      const base = (batchFirst ? b * L + l : l * B + b) * C;
      for (let c = 0; c < C; c++) out[base + c] = x[base + c] + sinusoid(l + posOffset, c, C);
    }
  }
  return out;
}
