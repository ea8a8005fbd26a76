// layernorm.wgsl — torch.nn.LayerNorm over the last dim: y = (v - mean) / sqrt(var + eps) * weight + bias,
// v = x, or v = x + residual (fused residual add: post-norm `norm(x + sublayer(x))`). Biased variance,
// eps inside the square root, all f32.
//
// Bindings (group 0), declared from the descriptor in src/kernels/layernorm.ts:
//   0  x         storage read        X [rows, C]
//   1  residual  storage read        R [rows, C]   (only with RESIDUAL)
//   2  y         storage read_write  Y [rows, C]
//   3  sum       storage read_write  S [rows, C]   (only with SUM_OUT: S = X + R, the pre-norm residual stream)
//   4  weight    storage read        [C]           (only with WEIGHT)
//   5  bias      storage read        [C]           (only with BIAS)
//   6  p         uniform             Params
// Every buffer is a distinct binding: y and sum may not alias x or residual (WebGPU forbids a buffer being
// read-only and writable storage in one dispatch).
//
// Defines: RESIDUAL, SUM_OUT (needs RESIDUAL), WEIGHT, BIAS (independent: bias=False keeps the weight).
// Overrides: WG (threads per workgroup, a power of two). One workgroup per row (rows.wgsl); each thread strides the
// row by WG. The statistics (shifted two-pass mean and biased variance) are row_stats.wgsl's, which the backward
// recomputes with the same code.

override WG: u32 = 256;
alias Red = vec2<f32>;

#include row_stats
#include rows

// The normalised input at flat index i: x, or x + residual rounded to f32 (what PyTorch materialises).
fn load(i: u32) -> f32 {
#if RESIDUAL
  return x[i] + residual[i];
#else
  return x[i];
#endif
}

fn row(r: u32, t: u32) {
  let base = r * p.C;
  let stats = rowStats(t, base, p.C, p.eps);
  for (var i = t; i < p.C; i += WG) {
    let v = load(base + i);
#if SUM_OUT
    sum[base + i] = v;
#endif
    var o = normalized(stats, v);
#if WEIGHT
    o *= weight[i];
#endif
#if BIAS
    o += bias[i];
#endif
    y[base + i] = o;
  }
}
