// relevance_weighted.wgsl — one attention module's gradient-weighted head mean for one batch element, the factor that
// relevance (Chefer, Gur & Wolf 2021) rolls out across layers:
//   out[l, s] = mean_h max(0, grad[b, h, l, s] * probs[b, h, l, s])
//
// Bindings (group 0), declared from the descriptor in src/kernels/relevance_weighted.ts:
//   0  probs  storage read   [B, H, L, S] attention probabilities
//   1  grad   storage read   [B, H, L, S] their gradient
//   2  out    storage rw     [L, S]
//   3  p      uniform        Params (b: the batch element; n = L * S)
// Overrides: WG. Grid: grid1d(ceil(n / WG)), one invocation per element (l, s). Summed in head order, then divided by H
// (as model/relevance.ts weighted).

override WG: u32 = 64;

#include elementwise

fn unit(i: u32) {
  let base = p.b * p.H * p.n + i;
  var acc = 0.0;
  for (var h = 0u; h < p.H; h++) {
    let k = base + h * p.n;
    acc += max(0.0, grad[k] * probs[k]);
  }
  out[i] = acc / f32(p.H);
}
