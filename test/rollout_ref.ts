// Attention rollout written plainly in f64, as a reference for src/analysis/rollout.ts and the CLI's --rollout.
import type { CapturedTensor } from '../src/hooks/registry.ts';

/** R = Â_l ··· Â_1 with Â = rownorm(mean_h(A)/2 + I/2), for batch element b of layers [B, H, L, L]: rows of R. */
export function rolloutF64(layers: readonly CapturedTensor[], b: number): number[][] {
  const [, H, L] = layers[0].shape;
  let r: number[][] | undefined;
  for (const w of layers) {
    const hat = Array.from({ length: L }, (_, i) => {
      const row = Array.from({ length: L }, (_, j) => {
        let m = 0;
        for (let h = 0; h < H; h++) m += w.data[((b * H + h) * L + i) * L + j];
        return m / H / 2 + (i === j ? 0.5 : 0);
      });
      const s = row.reduce((a, v) => a + v, 0);
      return row.map((v) => v / s);
    });
    const prev = r;
    r = prev ? hat.map((row) => prev[0].map((_, j) => row.reduce((a, v, k) => a + v * prev[k][j], 0))) : hat;
  }
  return r!;
}
