// softmax_backward.wgsl — the gradient through y = softmax(x) over the last dim of row-major [rows, n]:
//
//   dx[r, i] = probs[r, i] * (dp[r, i] - sum_j probs[r, j] * dp[r, j]),   probs = y = softmax(x), dp = dL/dy.
//
// Bindings (group 0), declared from the descriptor in src/kernels/softmax_backward.ts:
//   0  probs  storage read   P  [rows, n]   (the forward's probabilities)
//   1  dp     storage read   dP [rows, n]   (the gradient of the probabilities)
//   2  dx     storage rw     dX [rows, n]   (must not alias P or dP)
//   3  p      uniform        Params
//
// Entries with probs = 0 (masked or blocked keys) get dx = 0 exactly; a row of all zeros (a fully
// blocked query) gives a zero row, never NaN, as long as dP is finite.
//
// Overrides: WG (threads per workgroup, a power of two). One workgroup per row (rows.wgsl); each thread walks
// the row in strides of WG, so n may be any size.

override WG: u32 = 64;
alias Red = f32;

#include reduce
#include rows

fn row(r: u32, t: u32) {
  let base = r * p.n;
  var s = 0.0;
  for (var i = t; i < p.n; i += WG) { s = fma(probs[base + i], dp[base + i], s); }
  s = reduceSum(t, s);

  for (var i = t; i < p.n; i += WG) {
    dx[base + i] = probs[base + i] * (dp[base + i] - s);
  }
}
