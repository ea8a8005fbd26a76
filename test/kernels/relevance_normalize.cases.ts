import { relevanceNormalize, relevanceNormalizeRef } from '../../src/kernels/relevance_normalize.ts';
import { assertClose, type GpuCase, rng, uniform, withScope } from '../harness.ts';

/** Row sums with exact zeros (rows that keep no relevance: q / s must give 0, not NaN) among positive ones. */
function normalizeCase(n: number, withU: boolean, seed: number): GpuCase {
  const label = `relevance_normalize n ${n}${withU ? ' + u' : ''}`;
  return {
    name: label,
    run: (ctx) =>
      withScope(ctx, async (s) => {
        const rand = rng(seed);
        const q = uniform(rand, n, 0, 3);
        const sums = uniform(rand, n, 0.5, 4).map((v, i) => (i % 3 === 1 ? 0 : v));
        const u = withU ? uniform(rand, n, 0, 1) : undefined;
        const out = s.empty(n);
        await s.run(await relevanceNormalize(ctx, { q: s.upload(q), s: s.upload(sums), ...(u ? { u: s.upload(u) } : {}), out }, n));
        const got = await s.read(out);
        assertClose(label, got, relevanceNormalizeRef(q, sums, u), { atol: 0, rtol: 1e-6 });
        if (n > 1 && got[1] !== (u ? u[1] : 0)) throw new Error(`${label}: a zero row sum gave ${got[1]}`);
      }),
  };
}

export const cases: GpuCase[] = [normalizeCase(1, false, 1), normalizeCase(5, true, 2), normalizeCase(321, true, 3), normalizeCase(130, false, 4)];
