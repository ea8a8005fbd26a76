// rollout_hat.wgsl — one layer's factor of attention rollout (Abnar & Zuidema 2020): the head mean of square attention
// probabilities mixed with the identity for the residual path, rows normalised to sum 1:
//   Â[b, i, j] = v(i, j) / sum_j v(i, j),  v(i, j) = 0.5 * mean_h P[b, h, i, j] + 0.5 * [i == j]
//
// Bindings (group 0), declared from the descriptor in src/kernels/rollout_hat.ts:
//   0  probs  storage read   [B, H, L, L]
//   1  out    storage rw     [B, L, L]
//   2  p      uniform        Params
// Overrides: WG. Grid: grid1d(ceil(n / WG)), one invocation per row (b, i) (n = B*L). The head mean is summed in head
// order, then divided by H (as analysis/rollout.ts headMean).

override WG: u32 = 64;

#include elementwise

fn mixed(b: u32, i: u32, j: u32) -> f32 {
  var acc = 0.0;
  for (var h = 0u; h < p.H; h++) { acc += probs[((b * p.H + h) * p.L + i) * p.L + j]; }
  return 0.5 * (acc / f32(p.H)) + select(0.0, 0.5, i == j);
}

fn unit(r: u32) {
  let b = r / p.L;
  let i = r % p.L;
  var sum = 0.0;
  for (var j = 0u; j < p.L; j++) { sum += mixed(b, i, j); }
  let inv = select(1.0, 1.0 / sum, sum > 0.0);
  for (var j = 0u; j < p.L; j++) { out[r * p.L + j] = mixed(b, i, j) * inv; }
}
