// attn_entropy.wgsl — the entropy of each attention row (b, h, l) in nats: -sum_s P[s] ln P[s] (0 ln 0 = 0).
//
// Bindings (group 0), declared from the descriptor in src/kernels/attn_entropy.ts:
//   0  probs  storage read   [BH, L, S]: rows [l0, l0 + L) of each head's map of LT rows (all of it: l0 = 0, L = LT)
//   1  out    storage rw     [BH, LT] (rows l0 .. l0 + L - 1 written)
//   2  p      uniform        Params
// Overrides: WG. Grid: grid1d(ceil(n / WG)), one invocation per row (n = BH*L). Kahan-compensated sum: over 8,192
// keys a plain f32 sum drifts by ~1e-5 nats, the tolerance the entropy is held to.

override WG: u32 = 64;

#include elementwise

fn unit(r: u32) {
  let row = r * p.S;
  var sum = 0.0;
  var c = 0.0;
  for (var s = 0u; s < p.S; s++) {
    let x = probs[row + s];
    if (x > 0.0) {
      let y = -x * log(x) - c;
      let t = sum + y;
      c = (t - sum) - y;
      sum = t;
    }
  }
  out[(r / p.L) * p.LT + p.l0 + r % p.L] = sum;
}
