// attn_head_mean.wgsl — the mean over heads of attention probabilities; with ROLLOUT, one layer's factor of attention
// rollout (Abnar & Zuidema 2020): the head mean mixed with the identity for the residual path, rows normalised to 1:
//   A[b, l, s] = mean_h P[b, h, l, s]
//   ROLLOUT: Â[b, l, s] = v(l, s) / sum_s v(l, s),  v(l, s) = 0.5 * A[b, l, s] + 0.5 * [l == s]   (square: S = LT)
//
// Bindings (group 0), declared from the descriptor in src/kernels/attn_head_mean.ts:
//   0  probs  storage read   [B, H, L, S]: rows [l0, l0 + L) of each head's map of LT rows (all of it: l0 = 0, L = LT)
//   1  out    storage rw     [B, LT, S] (rows l0 .. l0 + L - 1 written)
//   2  p      uniform        Params
// Defines: ROLLOUT. Overrides: WG. Grid: grid1d(ceil(n / WG)), one invocation per row (b, l) (n = B*L). The head
// mean is summed in head order, then divided by H (as analysis/rollout.ts headMean).

override WG: u32 = 64;

#include elementwise

fn value(b: u32, l: u32, s: u32) -> f32 {
  var acc = 0.0;
  for (var h = 0u; h < p.H; h++) { acc += probs[((b * p.H + h) * p.L + l) * p.S + s]; }
  let mean = acc / f32(p.H);
#if ROLLOUT
  return 0.5 * mean + select(0.0, 0.5, p.l0 + l == s);
#else
  return mean;
#endif
}

fn unit(r: u32) {
  let b = r / p.L;
  let l = r % p.L;
  let row = (b * p.LT + p.l0 + l) * p.S;
#if ROLLOUT
  var sum = 0.0;
  for (var s = 0u; s < p.S; s++) { sum += value(b, l, s); }
  let inv = select(1.0, 1.0 / sum, sum > 0.0);
#else
  let inv = 1.0;
#endif
  for (var s = 0u; s < p.S; s++) { out[row + s] = value(b, l, s) * inv; }
}
