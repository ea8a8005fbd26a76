// row_stats.wgsl — the statistics layer norm normalises a row with: layernorm.wgsl computes them, and its backward
// (layernorm_backward.wgsl) recomputes them with this same code. One workgroup per row, each of the WG threads
// striding the row by WG. The includer declares `override WG`, `alias Red = vec2<f32>` (for reduce.wgsl) and
// `fn load(i: u32) -> f32`, the normalised input at flat index i.
//
// Numerics: two passes over the row with the data shifted by its first element, d = v - v[0]:
// mean_d = sum(d) / C, var = sum((d - mean_d)^2) / C (biased), rstd = 1 / sqrt(var + eps). For rows like
// 1000 + noise, v - v[0] is exact (Sterbenz) and small, so the result keeps full f32 accuracy where even the
// f32-rounded mean (half an ulp of 1000 is 3e-5) would not. Partial sums are reduced as a tree.
#include reduce

struct RowStats {
  shift: f32,
  meanD: f32,
  rstd: f32,
}

fn rowStats(t: u32, base: u32, C: u32, eps: f32) -> RowStats {
  let shift = load(base);
  let invC = 1.0 / f32(C);
  var s1 = 0.0;
  for (var i = t; i < C; i += WG) {
    s1 += load(base + i) - shift;
  }
  let meanD = reduceSum(t, vec2<f32>(s1, 0.0)).x * invC;
  var s2 = 0.0;
  for (var i = t; i < C; i += WG) {
    let d = (load(base + i) - shift) - meanD;
    s2 = fma(d, d, s2);
  }
  return RowStats(shift, meanD, inverseSqrt(reduceSum(t, vec2<f32>(s2, 0.0)).x * invC + eps));
}

// (v - mean) * rstd, from the shifted data.
fn normalized(s: RowStats, v: f32) -> f32 {
  return ((v - s.shift) - s.meanD) * s.rstd;
}
