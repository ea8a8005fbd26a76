// softmax.wgsl — y[r, :] = softmax(x[r, :]) over the last dim of a row-major [rows, n] f32 tensor.
//
// Bindings (group 0), declared from the descriptor in src/kernels/softmax.ts:
//   0  x  storage read   X [rows, n]   (element offset offX)
//   1  y  storage rw     Y [rows, n]   (element offset offY; must not overlap X)
//   2  p  uniform        Params
//
// Numerically stable: y = exp(x - max) / sum(exp(x - max)).
// A fully masked row (every entry -inf) gives all zeros, not NaN: this matches PyTorch >= 2.5's
// MultiheadAttention (PyTorch 1.13 gives NaN there). Entries of -inf elsewhere give exactly 0.
//
// Overrides: WG (threads per workgroup, a power of two). One workgroup per row (rows.wgsl); each thread walks
// the row in strides of WG, so n may be any size.

override WG: u32 = 64;
alias Red = f32;

#include lowest
#include reduce
#include rows

fn row(r: u32, t: u32) {
  let bx = p.offX + r * p.n;
  let by = p.offY + r * p.n;

  // The running max starts at LOWEST, so a row of -inf ends with sum 0: the all-zero row.
  var m = LOWEST;
  for (var i = t; i < p.n; i += WG) { m = max(m, x[bx + i]); }
  m = reduceMax(t, m);

  // Each thread writes exp(x - max) to the elements it owns and later reads back only those.
  var s = 0.0;
  for (var i = t; i < p.n; i += WG) {
    let e = exp(x[bx + i] - m);
    y[by + i] = e;
    s += e;
  }
  s = reduceSum(t, s);

  for (var i = t; i < p.n; i += WG) {
    if (s > 0.0) { y[by + i] = y[by + i] / s; } else { y[by + i] = 0.0; }
  }
}
