// rmsnorm_weight_grad.wgsl — the weight gradient of RMSNorm over the last dim of [rows, C]:
//
//   dWeight[c] = sum_rows dy[r, c] * x[r, c] * rstd[r]
//
// rstd [rows] comes from rmsnorm_backward.wgsl (the same dispatch order in a plan: it runs first).
//
// Bindings (group 0), declared from the descriptor RMSNORM_WEIGHT_GRAD in src/kernels/rmsnorm_backward.ts:
//   0  x        storage read        X [rows, C]
//   1  dy       storage read        dY [rows, C]
//   2  rstd     storage read        [rows]
//   3  dWeight  storage read_write  [C]
//   4  p        uniform             Params (n = C)
//
// Overrides: WG. One thread per column (elementwise.wgsl), no barriers; rows summed in chunks of 64 whose partials are
// added to the total (chains of 64 and rows / 64 terms, not one of rows).

override WG: u32 = 64;

#include elementwise

fn unit(c: u32) {
  var total = 0.0;
  for (var r0 = 0u; r0 < p.rows; r0 += 64u) {
    var part = 0.0;
    for (var r = r0; r < min(r0 + 64u, p.rows); r++) {
      part = fma(dy[r * p.n + c], x[r * p.n + c] * rstd[r], part);
    }
    total += part;
  }
  dWeight[c] = total;
}
