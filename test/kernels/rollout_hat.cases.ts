import { rolloutHat, rolloutHatRef, type RolloutDims } from '../../src/kernels/rollout_hat.ts';
import { assertClose, type GpuCase, withScope } from '../harness.ts';
import { attnProbs } from './attn_probs.ts';

function hatCase(name: string, d: RolloutDims, causal: boolean, seed: number): GpuCase {
  return {
    name: `rollout_hat ${name}`,
    run: (ctx) =>
      withScope(ctx, async (s) => {
        const probs = attnProbs(seed, { ...d, S: d.L }, { causal });
        const out = s.empty(d.B * d.L * d.L);
        await s.run(await rolloutHat(ctx, { probs: s.upload(probs), out }, d));
        assertClose(`rollout_hat ${name}`, await s.read(out), rolloutHatRef(probs, d), { atol: 1e-7, rtol: 1e-6, shape: [d.B, d.L, d.L] });
      }),
  };
}

export const cases: GpuCase[] = [
  hatCase('one head', { B: 1, H: 1, L: 5 }, false, 1),
  hatCase('causal, 2 batches x 3 heads, more rows than a workgroup', { B: 2, H: 3, L: 70 }, true, 2),
];
