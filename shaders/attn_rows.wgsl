// attn_rows.wgsl — attention from chosen query tokens (rows) or to chosen key tokens (COLUMNS), per head.
//
// Bindings (group 0), declared from the descriptor in src/kernels/attn_rows.ts:
//   0  probs  storage read   [BH, L, S]
//   1  index  storage read   u32 [NI]: the chosen query rows, or key columns with COLUMNS, in output order
//   2  out    storage rw     [BH, NI, S], or [BH, L, NI] with COLUMNS
//   3  p      uniform        Params
// Defines: COLUMNS. Overrides: WG. Grid: grid1d(ceil(n / WG)) over the n output elements.

override WG: u32 = 64;

#include elementwise

fn unit(i: u32) {
#if COLUMNS
  let c = i % p.NI;
  let row = i / p.NI;  // bh * L + l
  out[i] = probs[row * p.S + index[c]];
#else
  let s = i % p.S;
  let r = (i / p.S) % p.NI;
  let bh = i / (p.S * p.NI);
  out[i] = probs[(bh * p.L + index[r]) * p.S + s];
#endif
}
