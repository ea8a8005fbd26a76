// layernorm_param_grads.wgsl — the parameter gradients of y = LN(x) * weight + bias over the last dim of [rows, C],
// f32: dWeight[c] = sum_rows dy * xh, dBias[c] = sum_rows dy, xh = (x - mean) * rstd recomputed from x (shifted
// two-pass, biased variance, eps inside the square root, as layernorm.wgsl).
//
// Bindings (group 0), declared from the descriptor LAYERNORM_PARAM_GRADS in src/kernels/layernorm_backward.ts:
//   0  x        storage read        X [rows, C]   (only with WEIGHT_GRAD: dBias needs no statistics)
//   1  dy       storage read        dY [rows, C]
//   2  dWeight  storage read_write  [C]           (only with WEIGHT_GRAD)
//   3  dBias    storage read_write  [C]           (only with BIAS_GRAD)
//   4  p        uniform             Params
//
// Defines: WEIGHT_GRAD, BIAS_GRAD (at least one).
// Fixed 256 threads = CB (64) columns x RL (4) row lanes; one workgroup per block of 64 columns, walking all rows in
// chunks of 256. Per chunk, with WEIGHT_GRAD, thread t first computes the statistics of row t of the chunk on its own
// (serial passes over C in blocks of 32, coalesced across the chunk's rows only through the cache), then thread
// (c, lane) sums dy * xh and dy over rows lane, lane + 4, ... of the chunk into chunk partials that are added to its
// running totals (blocked summation: chains of 64 and rows / 256 terms, not rows / 4), and at the end the 4 lanes are
// added in workgroup memory. Every workgroup recomputes the statistics of every row: x is read ceil(C / 64) + 1 times
// in all, the price of one dispatch with no scratch buffer for the statistics.
// Grid: grid1d(ceil(C / 64)).

#include grid

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
  let block = workgroupIndex(wid, nwg);
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
