// rope.wgsl — rotary position embedding in Hugging Face's rotate-half layout (modeling_llama.py apply_rotary_pos_emb:
// x * cos + rotate_half(x) * sin, rotate_half(x) = cat(-x2, x1)), on every head of [rows, heads * D] rows:
//
//   y[r, h, j]        = x1 * cos(a) - x2 * sin(a) * sign      x1 = x[r, h, j], x2 = x[r, h, j + D/2], j < D/2
//   y[r, h, j + D/2]  = x2 * cos(a) + x1 * sin(a) * sign      a = pos[r] * inv_freq[j]
//
// sign = 1 rotates by a (the forward), sign = -1 by -a: the transpose, which is the backward (dx from dy).
// cos(a) and sin(a) come from a table computed on the CPU for every position (WGSL's cos / sin promise only 2^-11
// absolute error), so the position of each row is data: a prompt at 0.., a decode step at its own position, padding
// rows at whatever position_ids say.
//
// Bindings (group 0), declared from the descriptor in src/kernels/rope.ts:
//   0  x      storage read        X [rows, heads * D]
//   1  pos    storage read u32    position of each row [rows] (clamped to P - 1; the host checks them)
//   2  table  storage read        [P, D/2, 2]: (cos, sin) of position p, frequency j
//   3  y      storage read_write  Y [rows, heads * D]   (not x)
//   4  p      uniform             Params (n = rows * heads * D/2)
//
// Overrides: WG. One thread per rotated pair (elementwise.wgsl).

override WG: u32 = 64;

#include elementwise

fn unit(i: u32) {
  let half = p.D / 2u;
  let j = i % half;
  let rh = i / half;
  let r = rh / p.heads;
  let base = rh * p.D;
  let t = (min(pos[r], p.P - 1u) * half + j) * 2u;
  let c = table[t];
  let s = p.sign * table[t + 1u];
  let x1 = x[base + j];
  let x2 = x[base + j + half];
  y[base + j] = x1 * c - x2 * s;
  y[base + j + half] = x2 * c + x1 * s;
}
