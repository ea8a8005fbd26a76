import { KEEP, patchRows, patchRowsRef } from '../../src/kernels/patch_rows.ts';
import { assertClose, type GpuCase, rng, uniform, withScope } from '../harness.ts';

/** S segments of C values, about half of them patched from M value rows (the first and last always). */
function patchCase(S: number, C: number, M: number, seed: number): GpuCase {
  return {
    name: `patch_rows S=${S} C=${C} M=${M}`,
    run: (ctx) =>
      withScope(ctx, async (s) => {
        const rand = rng(seed);
        const x = uniform(rand, S * C);
        const values = uniform(rand, M * C, -3, 3);
        const index = Uint32Array.from({ length: S }, (_, i) => (i === 0 || i === S - 1 || rand() < 0.5 ? Math.floor(rand() * M) : KEEP));
        const y = s.empty(S * C);
        const bufs = { x: s.upload(x), index: s.upload(new Float32Array(index.buffer), 'index'), values: s.upload(values), y };
        await s.run(await patchRows(ctx, bufs, { S, C, M }));
        assertClose('patch_rows', await s.read(y), patchRowsRef(x, index, values, C), { atol: 0, shape: [S, C] });
      }),
  };
}

export const cases: GpuCase[] = [patchCase(1, 1, 1, 1), patchCase(9, 13, 4, 2), patchCase(4 * 7 * 8, 16, 7 * 8, 3), patchCase(700, 96, 3, 4)];
