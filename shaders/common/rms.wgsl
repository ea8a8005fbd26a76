// rms.wgsl — one row's rsqrt(mean_C(x^2) + eps) for RMSNorm and its backward: the WG threads of the row stride it and
// tree-reduce the sum of squares (reduce.wgsl). Reads the kernel's `x`, `p.C` and `p.eps`.

#include reduce

fn rowRstd(base: u32, t: u32) -> f32 {
  var s = 0.0;
  for (var i = t; i < p.C; i += WG) {
    let v = x[base + i];
    s = fma(v, v, s);
  }
  return inverseSqrt(reduceSum(t, s) / f32(p.C) + p.eps);
}
