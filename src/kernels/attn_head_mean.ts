import type { GpuContext } from '../gpu/context.ts';
import source from '../../shaders/attn_head_mean.wgsl?raw';
import type { AttnDims } from './attn_select.ts';
import { checkWindow, type RowWindow } from './attn_window.ts';
import { type Dispatch, grid1d } from './dispatch.ts';
import { dispatchKernel, kernel } from './kernel.ts';

export const ATTN_HEAD_MEAN = kernel({
  name: 'attn_head_mean',
  source,
  bindings: { probs: 'read', out: 'write', p: 'uniform' },
  uniforms: { H: 'u32', L: 'u32', S: 'u32', l0: 'u32', LT: 'u32', n: 'u32' },
  defines: ['ROLLOUT'],
});

/**
 * The mean over heads of `probs` [B, H, L, S] into `out` [B, LT, S] (rows l0 .. l0 + L - 1 of it, see RowWindow); with
 * `rollout`, one layer's rollout factor Â = rownorm(0.5·mean_h(P) + 0.5·I) instead (square maps: S = LT). The rollout
 * up to a layer is Â_layer · (the rollout up to the layer before), a batched matmul.
 */
export async function attnHeadMean(
  ctx: GpuContext,
  bufs: { probs: GPUBufferBinding; out: GPUBufferBinding },
  d: AttnDims,
  rollout: boolean,
  w: RowWindow = { l0: 0, LT: d.L },
  label = 'attn_head_mean',
): Promise<Dispatch> {
  checkWindow(label, d, w);
  if (rollout && d.S !== w.LT) throw new Error(`${label}: rollout needs square maps; [${w.LT}, ${d.S}] is not`);
  const rows = d.B * d.L;
  const WG = 64;
  return dispatchKernel(ctx, ATTN_HEAD_MEAN, label, {
    bufs,
    need: { probs: d.B * d.H * d.L * d.S, out: d.B * w.LT * d.S },
    params: { H: d.H, L: d.L, S: d.S, l0: w.l0, LT: w.LT, n: rows },
    defines: { ROLLOUT: rollout },
    constants: { WG },
    workgroups: grid1d(ctx, Math.ceil(rows / WG)),
  });
}

/** CPU reference in f64 over the whole map: [B, L, S]. */
export function attnHeadMeanRef(probs: Float32Array, d: AttnDims, rollout: boolean): Float32Array {
  const { B, H, L, S } = d;
  const out = new Float32Array(B * L * S);
  const v = new Float64Array(S);
  for (let b = 0; b < B; b++) {
    for (let l = 0; l < L; l++) {
      let sum = 0;
      for (let s = 0; s < S; s++) {
        let acc = 0;
        for (let h = 0; h < H; h++) acc += probs[((b * H + h) * L + l) * S + s];
        v[s] = rollout ? (0.5 * acc) / H + (l === s ? 0.5 : 0) : acc / H;
        sum += v[s];
      }
      for (let s = 0; s < S; s++) out[(b * L + l) * S + s] = rollout && sum > 0 ? v[s] / sum : v[s];
    }
  }
  return out;
}
