// swiglu_backward.wgsl — the gradients of y = silu(gate) * up (swiglu.wgsl), s = sigmoid(gate):
//
//   dgate = dy * up * s * (1 + gate * (1 - s)),   dup = dy * silu(gate)
//
// Bindings (group 0), declared from the descriptor in src/kernels/swiglu_backward.ts:
//   0  dy     storage read        [n]
//   1  gate   storage read        [n]
//   2  up     storage read        [n]
//   3  dgate  storage read_write  [n]
//   4  dup    storage read_write  [n]
//   5  p      uniform             Params
//
// Overrides: WG. One element per thread (elementwise.wgsl).

override WG: u32 = 256;

#include elementwise

fn unit(i: u32) {
  let g = gate[i];
  let s = 1.0 / (1.0 + exp(-g));
  dgate[i] = dy[i] * up[i] * s * (1.0 + g * (1.0 - s));
  dup[i] = dy[i] * g * s;
}
