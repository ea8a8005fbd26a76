// scale_heads.wgsl — multiplies each head's slice of the merged attention output by a factor, in place:
// x[row, h*D + d] *= scale[h]. Zero ablates a head (before out_proj, as zeroing its output in PyTorch).
//
// Bindings (group 0), as the descriptor in src/kernels/scale_heads.ts declares them:
//   0  x      storage rw     [rows, H*D]
//   1  scale  storage read   [H]
//   2  p      uniform        Params
// Overrides: WG. Grid: grid1d(ceil(n / WG)) over the n = rows*H*D elements.

override WG: u32 = 256;

@group(0) @binding(0) var<storage, read_write> x: array<f32>;
@group(0) @binding(1) var<storage, read> scale: array<f32>;
@group(0) @binding(2) var<uniform> p: Params;

#include elementwise

fn unit(i: u32) {
  x[i] = x[i] * scale[(i / p.D) % p.H];
}
