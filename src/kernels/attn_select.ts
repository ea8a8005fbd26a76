import type { GpuContext } from '../gpu/context.ts';
import source from '../../shaders/attn_select.wgsl?raw';
import { type Dispatch, grid1d } from './dispatch.ts';
import { dispatchKernel, kernel } from './kernel.ts';

export const ATTN_SELECT = kernel({
  name: 'attn_select',
  source,
  bindings: { probs: 'read', heads: 'read u32', out: 'write', p: 'uniform' },
  uniforms: { H: 'u32', L: 'u32', S: 'u32', NH: 'u32', l0: 'u32', LQ: 'u32', n: 'u32' },
  defines: ['AVERAGE'],
});

/** Which part of [B, H, L, S] attention probabilities to keep. */
export interface AttnSelection {
  /** Heads to keep, in output order (default all). */
  heads?: readonly number[];
  /** Query range [from, to) (default all L). */
  queries?: readonly [number, number];
  /** Mean over the kept heads: [B, LQ, S] instead of [B, NH, LQ, S]. */
  average?: boolean;
}

export interface AttnDims {
  B: number;
  H: number;
  L: number;
  S: number;
}

/** The selection with defaults filled in and checked; the output shape. */
export function attnSelection(label: string, d: AttnDims, sel: AttnSelection): { heads: number[]; l0: number; LQ: number; average: boolean; shape: number[] } {
  const heads = sel.heads ? [...sel.heads] : Array.from({ length: d.H }, (_, h) => h);
  if (heads.length === 0) throw new Error(`${label}: the head selection is empty`);
  for (const h of heads) if (!Number.isInteger(h) || h < 0 || h >= d.H) throw new Error(`${label}: head ${h} does not exist (the module has ${d.H} heads)`);
  const [l0, l1] = sel.queries ?? [0, d.L];
  if (!Number.isInteger(l0) || !Number.isInteger(l1) || l0 < 0 || l1 > d.L || l1 <= l0) {
    throw new Error(`${label}: query range [${l0}, ${l1}) is not inside [0, ${d.L})`);
  }
  const average = sel.average ?? false;
  const LQ = l1 - l0;
  return { heads, l0, LQ, average, shape: average ? [d.B, LQ, d.S] : [d.B, heads.length, LQ, d.S] };
}

/**
 * Copies the selected heads / queries of `probs` into `out` (averaged over heads on request). The head list is
 * uploaded into a small buffer the returned Dispatch owns.
 */
export async function attnSelect(
  ctx: GpuContext,
  bufs: { probs: GPUBufferBinding; out: GPUBufferBinding },
  d: AttnDims,
  sel: AttnSelection,
  label = 'attn_select',
): Promise<Dispatch> {
  const s = attnSelection(label, d, sel);
  const total = s.shape.reduce((a, b) => a * b, 1);
  const WG = 256;
  return dispatchKernel(ctx, ATTN_SELECT, label, {
    bufs,
    uploads: { heads: new Uint32Array(s.heads) },
    need: { probs: d.B * d.H * d.L * d.S, out: total },
    params: { H: d.H, L: d.L, S: d.S, NH: s.heads.length, l0: s.l0, LQ: s.LQ, n: total },
    defines: { AVERAGE: s.average },
    constants: { WG },
    workgroups: grid1d(ctx, Math.ceil(total / WG)),
  });
}

/** CPU reference. */
export function attnSelectRef(probs: Float32Array, d: AttnDims, sel: AttnSelection): Float32Array {
  const s = attnSelection('attnSelectRef', d, sel);
  const out = new Float32Array(s.shape.reduce((a, b) => a * b, 1));
  const NH = s.heads.length;
  for (let b = 0; b < d.B; b++) {
    for (let hi = 0; hi < NH; hi++) {
      for (let l = 0; l < s.LQ; l++) {
        for (let k = 0; k < d.S; k++) {
          const v = probs[((b * d.H + s.heads[hi]) * d.L + s.l0 + l) * d.S + k];
          if (s.average) out[(b * s.LQ + l) * d.S + k] += v / NH;
          else out[((b * NH + hi) * s.LQ + l) * d.S + k] = v;
        }
      }
    }
  }
  return out;
}
