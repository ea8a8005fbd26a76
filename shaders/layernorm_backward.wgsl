// layernorm_backward.wgsl — gradients of y = LN(x) * weight + bias over the last dim of [rows, C], f32.
// Two kernels, chosen by PARAM_GRADS; both recompute each row's mean and rstd from x exactly as layernorm.wgsl
// does (shifted two-pass, biased variance, eps inside the square root), so no statistics are kept from the forward.
//
//   dx kernel (PARAM_GRADS off):  xh = (x - mean) * rstd, g = dy * weight,
//                                 dx = rstd * (g - mean_C(g) - xh * mean_C(g * xh))  (+ dxAdd with DX_ADD)
//   param kernel (PARAM_GRADS):   dWeight[c] = sum_rows dy * xh,  dBias[c] = sum_rows dy
//
// Bindings (group 0):
//   0  x        storage read        X [rows, C]
//   1  dy       storage read        dY [rows, C]
//   2  weight   storage read        [C]          (dx kernel, only with WEIGHT; absent means weight 1)
//   3  dxAdd    storage read        [rows, C]    (dx kernel, only with DX_ADD: gradient reaching x by another path)
//   4  dx       storage read_write  dX [rows, C] (dx kernel)
//   5  dWeight  storage read_write  [C]          (param kernel, only with WEIGHT_GRAD)
//   6  dBias    storage read_write  [C]          (param kernel, only with BIAS_GRAD)
//   7  p        uniform             Params
// Every buffer is a distinct binding (WebGPU forbids one buffer being read-only and writable in one dispatch).
//
// Defines: PARAM_GRADS, WEIGHT, DX_ADD (dx kernel), WEIGHT_GRAD, BIAS_GRAD (param kernel; at least one).
//
// dx kernel: override WG (threads per row, a power of two); one workgroup per row, threads stride the row, four
// tree reductions in workgroup memory. Grid: grid1d(rows), the row is wid.x + wid.y * nwg.x.
//
// param kernel: fixed 256 threads = CB (64) columns x RL (4) row lanes; one workgroup per block of 64 columns,
// walking all rows in chunks of 256. Per chunk, with WEIGHT_GRAD, thread t first computes the statistics of
// row t of the chunk on its own (serial passes over C in blocks of 32, coalesced across the chunk's rows only
// through the cache),
// then thread (c, lane) sums dy * xh and dy over rows lane, lane + 4, ... of the chunk into chunk partials that are
// added to its running totals (blocked summation: chains of 64 and rows / 256 terms, not rows / 4), and at the
// end the 4 lanes are added in workgroup memory. Every workgroup recomputes the statistics of every row: x is
// read ceil(C / 64) + 1 times in all, the price of one dispatch with no scratch buffer for the statistics.
// Grid: grid1d(ceil(C / 64)).

struct Params {
  rows: u32,
  C: u32,
  eps: f32,
}

@group(0) @binding(0) var<storage, read> x: array<f32>;
@group(0) @binding(1) var<storage, read> dy: array<f32>;
#if WEIGHT
@group(0) @binding(2) var<storage, read> weight: array<f32>;
#endif
#if DX_ADD
@group(0) @binding(3) var<storage, read> dxAdd: array<f32>;
#endif
#if PARAM_GRADS
#else
@group(0) @binding(4) var<storage, read_write> dx: array<f32>;
#endif
#if WEIGHT_GRAD
@group(0) @binding(5) var<storage, read_write> dWeight: array<f32>;
#endif
#if BIAS_GRAD
@group(0) @binding(6) var<storage, read_write> dBias: array<f32>;
#endif
@group(0) @binding(7) var<uniform> p: Params;

#if PARAM_GRADS

const CB: u32 = 64u;
const RL: u32 = 4u;
const R: u32 = 256u;
const SB: u32 = 32u;

// Per row of the current chunk: the shift (the row's first element), the mean of x - shift, and rstd.
var<workgroup> shiftS: array<f32, R>;
var<workgroup> meanS: array<f32, R>;
var<workgroup> rstdS: array<f32, R>;
// Lane totals for the final reduction: x = dWeight, y = dBias.
var<workgroup> red: array<vec2<f32>, R>;

@compute @workgroup_size(CB, RL, 1)
fn main(
  @builtin(workgroup_id) wid: vec3<u32>,
  @builtin(num_workgroups) nwg: vec3<u32>,
  @builtin(local_invocation_id) lid: vec3<u32>,
  @builtin(local_invocation_index) t: u32,
) {
  let block = wid.x + wid.y * nwg.x;
  // Uniform per workgroup: a whole surplus workgroup of the 2-D grid leaves before any barrier.
  if (block * CB >= p.C) {
    return;
  }
  let c = block * CB + lid.x;
  let inCol = c < p.C;
  let invC = 1.0 / f32(p.C);
  var total = vec2<f32>(0.0);
  for (var row0 = 0u; row0 < p.rows; row0 += R) {
#if WEIGHT_GRAD
    // Statistics of row row0 + t, by thread t alone, in blocks of SB elements (chains of SB and C / SB terms).
    let r = row0 + t;
    if (r < p.rows) {
      let base = r * p.C;
      let shift = x[base];
      var s1 = 0.0;
      for (var i0 = 0u; i0 < p.C; i0 += SB) {
        let end = min(i0 + SB, p.C);
        var part = 0.0;
        for (var i = i0; i < end; i++) {
          part += x[base + i] - shift;
        }
        s1 += part;
      }
      let meanD = s1 * invC;
      var s2 = 0.0;
      for (var i0 = 0u; i0 < p.C; i0 += SB) {
        let end = min(i0 + SB, p.C);
        var part = 0.0;
        for (var i = i0; i < end; i++) {
          let d = (x[base + i] - shift) - meanD;
          part = fma(d, d, part);
        }
        s2 += part;
      }
      shiftS[t] = shift;
      meanS[t] = meanD;
      rstdS[t] = inverseSqrt(s2 * invC + p.eps);
    }
    workgroupBarrier();
#endif
    var part = vec2<f32>(0.0);
    if (inCol) {
      let end = min(R, p.rows - row0);
      for (var j = lid.y; j < end; j += RL) {
        let i = (row0 + j) * p.C + c;
        let g = dy[i];
#if WEIGHT_GRAD
        let xh = ((x[i] - shiftS[j]) - meanS[j]) * rstdS[j];
        part += vec2<f32>(g * xh, g);
#else
        part.y += g;
#endif
      }
    }
    total += part;
    // The next chunk overwrites the statistics.
    workgroupBarrier();
  }

  red[t] = total;
  workgroupBarrier();
  if (lid.y == 0u && inCol) {
    let s = (red[lid.x] + red[lid.x + CB]) + (red[lid.x + 2u * CB] + red[lid.x + 3u * CB]);
#if WEIGHT_GRAD
    dWeight[c] = s.x;
#endif
#if BIAS_GRAD
    dBias[c] = s.y;
#endif
  }
}

#else

override WG: u32 = 64;

var<workgroup> red: array<vec2<f32>, WG>;

// Sum of `v` over the workgroup; every thread gets the total. Called in uniform control flow.
fn reduceSum(t: u32, v: vec2<f32>) -> vec2<f32> {
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

// g = dy * weight at flat index i, column col.
fn gradOut(i: u32, col: u32) -> f32 {
#if WEIGHT
  return dy[i] * weight[col];
#else
  return dy[i];
#endif
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
  let shift = x[base];
  let invC = 1.0 / f32(p.C);

  var s1 = 0.0;
  for (var i = t; i < p.C; i += WG) {
    s1 += x[base + i] - shift;
  }
  let meanD = reduceSum(t, vec2<f32>(s1, 0.0)).x * invC;

  var s2 = 0.0;
  for (var i = t; i < p.C; i += WG) {
    let d = (x[base + i] - shift) - meanD;
    s2 = fma(d, d, s2);
  }
  let rstd = inverseSqrt(reduceSum(t, vec2<f32>(s2, 0.0)).x * invC + p.eps);

  // mean_C(g) and mean_C(g * xh).
  var s3 = vec2<f32>(0.0);
  for (var i = t; i < p.C; i += WG) {
    let xh = ((x[base + i] - shift) - meanD) * rstd;
    let g = gradOut(base + i, i);
    s3 += vec2<f32>(g, g * xh);
  }
  let m = reduceSum(t, s3) * invC;

  for (var i = t; i < p.C; i += WG) {
    let xh = ((x[base + i] - shift) - meanD) * rstd;
    var o = rstd * ((gradOut(base + i, i) - m.x) - xh * m.y);
#if DX_ADD
    o += dxAdd[base + i];
#endif
    dx[base + i] = o;
  }
}

#endif
