// patch_rows.wgsl — per-segment replacement: y = x, except that segment s (C consecutive values) is taken from row
// index[s] of `values` when index[s] is not KEEP (0xffffffff). The batch dimension of a sweep carries its variants:
// each variant's rows of a module's output (or each head's columns of the merged heads) read the values that variant
// patches in, and every other segment passes through.
//
// Bindings (group 0), declared from the descriptor in src/kernels/patch_rows.ts:
//   0  x       storage read   [S, C]
//   1  index   storage read   u32 [S]   (KEEP, or a row of values)
//   2  values  storage read   [M, C]
//   3  y       storage write  [S, C]
//   4  p       uniform        Params
// Overrides: WG. Grid: grid1d(ceil(n / WG)) over the n = S*C elements.

override WG: u32 = 256;

#include elementwise

fn unit(i: u32) {
  let j = index[i / p.C];
  if (j == 0xffffffffu) {
    y[i] = x[i];
  } else {
    y[i] = values[min(j, p.M - 1u) * p.C + i % p.C];
  }
}
