// layernorm_backward.wgsl — dx for y = LN(x) * weight + bias over the last dim of [rows, C], f32:
//
//   xh = (x - mean) * rstd, g = dy * weight,  dx = rstd * (g - mean_C(g) - xh * mean_C(g * xh))  (+ dxAdd with DX_ADD)
//
// mean and rstd are recomputed from x by row_stats.wgsl, the code the forward (layernorm.wgsl) computes them with, so
// no statistics are kept from the forward. The parameter gradients are layernorm_param_grads.wgsl.
//
// Bindings (group 0), declared from the descriptor in src/kernels/layernorm_backward.ts:
//   0  x        storage read        X [rows, C]
//   1  dy       storage read        dY [rows, C]
//   2  weight   storage read        [C]          (only with WEIGHT; absent means weight 1)
//   3  dxAdd    storage read        [rows, C]    (only with DX_ADD: gradient reaching x by another path)
//   4  dx       storage read_write  dX [rows, C]
//   5  p        uniform             Params
// Every buffer is a distinct binding (WebGPU forbids one buffer being read-only and writable in one dispatch).
//
// Defines: WEIGHT, DX_ADD. Overrides: WG (threads per row, a power of two); one workgroup per row (rows.wgsl),
// threads stride the row, three tree reductions in workgroup memory (two for the statistics).

override WG: u32 = 64;
alias Red = vec2<f32>;

#include row_stats
#include rows

fn load(i: u32) -> f32 {
  return x[i];
}

// g = dy * weight at flat index i, column col.
fn gradOut(i: u32, col: u32) -> f32 {
#if WEIGHT
  return dy[i] * weight[col];
#else
  return dy[i];
#endif
}

fn row(r: u32, t: u32) {
  let base = r * p.C;
  let stats = rowStats(t, base, p.C, p.eps);

  // mean_C(g) and mean_C(g * xh).
  var s3 = vec2<f32>(0.0);
  for (var i = t; i < p.C; i += WG) {
    let g = gradOut(base + i, i);
    s3 += vec2<f32>(g, g * normalized(stats, x[base + i]));
  }
  let m = reduceSum(t, s3) * (1.0 / f32(p.C));

  for (var i = t; i < p.C; i += WG) {
    var o = stats.rstd * ((gradOut(base + i, i) - m.x) - normalized(stats, x[base + i]) * m.y);
#if DX_ADD
    o += dxAdd[base + i];
#endif
    dx[base + i] = o;
  }
}
