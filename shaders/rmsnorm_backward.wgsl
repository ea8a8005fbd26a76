// rmsnorm_backward.wgsl — dx of y = x * rstd * weight over the last dim of [rows, C], rstd = rsqrt(mean_C(x^2) + eps):
//
//   g = dy * weight,  xh = x * rstd,  dx = rstd * (g - xh * mean_C(g * xh))   (+ dxAdd with DX_ADD)
//
// and each row's rstd, which the weight gradient (rmsnorm_weight_grad.wgsl) reads: dWeight = sum_rows dy * x * rstd.
//
// Bindings (group 0), declared from the descriptor in src/kernels/rmsnorm_backward.ts:
//   0  x       storage read        X [rows, C]
//   1  dy      storage read        dY [rows, C]
//   2  weight  storage read        [C]
//   3  dxAdd   storage read        [rows, C]   (only with DX_ADD: gradient reaching x by another path)
//   4  dx      storage read_write  dX [rows, C]
//   5  rstd    storage read_write  [rows]
//   6  p       uniform             Params
//
// Defines: DX_ADD. Overrides: WG (threads per row, a power of two); one workgroup per row (rows.wgsl), two tree
// reductions (the sum of squares, the sum of g * xh).

override WG: u32 = 64;
alias Red = f32;

#include rms
#include rows

fn row(r: u32, t: u32) {
  let base = r * p.C;
  let rs = rowRstd(base, t);
  var sg = 0.0;
  for (var i = t; i < p.C; i += WG) {
    sg = fma(dy[base + i] * weight[i], x[base + i] * rs, sg);
  }
  let m = reduceSum(t, sg) / f32(p.C);
  for (var i = t; i < p.C; i += WG) {
    var o = rs * (dy[base + i] * weight[i] - (x[base + i] * rs) * m);
#if DX_ADD
    o += dxAdd[base + i];
#endif
    dx[base + i] = o;
  }
  if (t == 0u) {
    rstd[r] = rs;
  }
}
