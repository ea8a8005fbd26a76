// layernorm.wgsl — torch.nn.LayerNorm over the last dim: y = (v - mean) / sqrt(var + eps) * weight + bias,
// v = x, or v = x + residual (fused residual add: post-norm `norm(x + sublayer(x))`). Biased variance,
// eps inside the square root, all f32.
//
// Bindings (group 0):
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
// Overrides: WG (threads per workgroup, a power of two). One workgroup per row; each thread strides the row
// by WG. Grid: grid1d(rows), the row is wid.x + wid.y * nwg.x.
//
// Numerics: two passes over the row with the data shifted by its first element, d = v - v[0]:
// mean_d = sum(d) / C, var = sum((d - mean_d)^2) / C. For rows like 1000 + noise, v - v[0] is exact
// (Sterbenz) and small, so the result keeps full f32 accuracy where even the f32-rounded mean (half an ulp
// of 1000 is 3e-5) would not. Partial sums are reduced as a tree in workgroup memory.

struct Params {
  rows: u32,
  C: u32,
  eps: f32,
}

override WG: u32 = 256;

@group(0) @binding(0) var<storage, read> x: array<f32>;
#if RESIDUAL
@group(0) @binding(1) var<storage, read> residual: array<f32>;
#endif
@group(0) @binding(2) var<storage, read_write> y: array<f32>;
#if SUM_OUT
@group(0) @binding(3) var<storage, read_write> sum: array<f32>;
#endif
#if WEIGHT
@group(0) @binding(4) var<storage, read> weight: array<f32>;
#endif
#if BIAS
@group(0) @binding(5) var<storage, read> bias: array<f32>;
#endif
@group(0) @binding(6) var<uniform> p: Params;

var<workgroup> red: array<f32, WG>;

// The normalised input at flat index i: x, or x + residual rounded to f32 (what PyTorch materialises).
fn load(i: u32) -> f32 {
#if RESIDUAL
  return x[i] + residual[i];
#else
  return x[i];
#endif
}

// Sum of `v` over the workgroup; every thread gets the total. Called in uniform control flow.
fn reduceSum(t: u32, v: f32) -> f32 {
  red[t] = v;
  workgroupBarrier();
  for (var s = WG / 2u; s > 0u; s >>= 1u) {
    if (t < s) {
      red[t] += red[t + s];
    }
    workgroupBarrier();
  }
  let total = red[0];
  // Nobody may overwrite red[0] (next reduction) before everyone has read it.
  workgroupBarrier();
  return total;
}

@compute @workgroup_size(WG)
fn main(
  @builtin(workgroup_id) wid: vec3<u32>,
  @builtin(num_workgroups) nwg: vec3<u32>,
  @builtin(local_invocation_index) t: u32,
) {
  let row = wid.x + wid.y * nwg.x;
  if (row >= p.rows) {
    return;
  }
  let base = row * p.C;
  let shift = load(base);
  let invC = 1.0 / f32(p.C);

  var s1 = 0.0;
  for (var i = t; i < p.C; i += WG) {
    s1 += load(base + i) - shift;
  }
  let meanD = reduceSum(t, s1) * invC;

  var s2 = 0.0;
  for (var i = t; i < p.C; i += WG) {
    let d = (load(base + i) - shift) - meanD;
    s2 = fma(d, d, s2);
  }
  let rstd = inverseSqrt(reduceSum(t, s2) * invC + p.eps);

  for (var i = t; i < p.C; i += WG) {
    let v = load(base + i);
#if SUM_OUT
    sum[base + i] = v;
#endif
    var o = ((v - shift) - meanD) * rstd;
#if WEIGHT
    o *= weight[i];
#endif
#if BIAS
    o += bias[i];
#endif
    y[base + i] = o;
  }
}
