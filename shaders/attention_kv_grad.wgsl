// attention_kv_grad.wgsl — the key or value gradient of grouped-query attention, summed over the G query heads that
// share each key / value head (attention_backward.ts uses it when G = H / KVH > 1; per-head matmuls otherwise):
//
//   Y[b, g, s, d] = alpha * sum_{j < G} sum_{l < L} W[b, g*G + j, l, s] * X[b, g*G + j, l, d]
//
//   dK: W = dS (the scores' gradient), X = Q,  alpha = scale
//   dV: W = P  (the probabilities),    X = dO, alpha = 1
//
// Element (b, h, l, d) of X lives at xOff + b*xStrideB + l*xStrideL + h*D + d (a query-head row layout); element
// (b, g, s, d) of Y at yOff + b*yStrideB + s*yStrideL + g*D + d (a key / value row layout, KVH*D columns). Only those
// columns of Y are written, so dK and dV may be column slices of one packed gradient.
//
// Bindings (group 0), declared from the descriptor in src/kernels/attention_kv_grad.ts:
//   0  w  storage read   W [B, H, L, S] contiguous
//   1  x  storage read   X rows
//   2  y  storage rw     Y rows
//   3  p  uniform        Params (n = B*KVH*S*D)
//
// Overrides: WG. One thread per element of Y, no barriers (elementwise.wgsl); each sums G*L products in a fixed order.

override WG: u32 = 64;

#include elementwise

fn unit(i: u32) {
  let d = i % p.D;
  let r = i / p.D;
  let s = r % p.S;
  let bg = r / p.S;
  let kvh = p.H / p.G;
  let g = bg % kvh;
  let b = bg / kvh;
  var acc = 0.0;
  for (var j = 0u; j < p.G; j++) {
    let h = g * p.G + j;
    let wb = (b * p.H + h) * p.L * p.S + s;
    let xb = p.xOff + b * p.xStrideB + h * p.D + d;
    for (var l = 0u; l < p.L; l++) {
      acc = fma(w[wb + l * p.S], x[xb + l * p.xStrideL], acc);
    }
  }
  y[p.yOff + b * p.yStrideB + s * p.yStrideL + g * p.D + d] = p.alpha * acc;
}
