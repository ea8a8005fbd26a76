import { scaleHeads, scaleHeadsRef } from '../../src/kernels/scale_heads.ts';
import { assertClose, type GpuCase, rng, uniform, withScope } from '../harness.ts';

function scaleCase(rows: number, H: number, D: number, seed: number): GpuCase {
  return {
    name: `scale_heads rows=${rows} H=${H} D=${D}`,
    run: (ctx) =>
      withScope(ctx, async (s) => {
        const rand = rng(seed);
        const x = uniform(rand, rows * H * D);
        const scale = uniform(rand, H, -2, 2);
        scale[0] = 0; // ablation
        const xb = s.upload(x);
        await s.run(await scaleHeads(ctx, { x: xb, scale: s.upload(scale) }, { rows, H, D }));
        assertClose('scale_heads', await s.read(xb), scaleHeadsRef(x, scale, D), { atol: 0, shape: [rows, H * D] });
      }),
  };
}

export const cases: GpuCase[] = [scaleCase(1, 1, 1, 1), scaleCase(7, 3, 13, 2), scaleCase(300, 8, 64, 3)];
