// add.wgsl — out = a + b elementwise (residual add), same shape, f32.
//
// Bindings (group 0), declared from the descriptor in src/kernels/add.ts:
//   0  a    storage read        A [n]   (absent with INPLACE)
//   1  b    storage read        B [n]
//   2  out  storage read_write  O [n]   (with INPLACE: A itself, out += b)
//   3  p    uniform             Params  (n counted in units: elements, or vec4s under VEC4)
// WebGPU cannot bind one buffer as read-only and writable storage in one dispatch, so out = a is the
// INPLACE variant rather than an aliased binding; b must differ from a and out.
//
// Defines: INPLACE, VEC4 (one vec4 per thread: n % 4 == 0). Overrides: WG (threads per workgroup).
// Grid: grid1d(ceil(units / WG)).

override WG: u32 = 256;

#include units

#include elementwise

fn unit(i: u32) {
#if INPLACE
  out[i] = out[i] + b[i];
#else
  out[i] = a[i] + b[i];
#endif
}
