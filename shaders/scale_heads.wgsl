// scale_heads.wgsl — multiplies each head's slice of the merged attention output by a factor, in place:
// x[row, h*D + d] *= scale[h]. Zero ablates a head (before out_proj, as zeroing its output in PyTorch).
//
// Bindings (group 0), declared from the descriptor in src/kernels/scale_heads.ts:
//   0  x      storage rw     [rows, H*D]
//   1  scale  storage read   [H]
//   2  p      uniform        Params
// Overrides: WG. Grid: grid1d(ceil(n / WG)) over the n = rows*H*D elements.

override WG: u32 = 256;

#include elementwise

fn unit(i: u32) {
  x[i] = x[i] * scale[(i / p.D) % p.H];
}
