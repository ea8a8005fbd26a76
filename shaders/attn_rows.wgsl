// attn_rows.wgsl — attention from chosen query tokens (rows) or to chosen key tokens (COLUMNS), per head.
//
// Bindings (group 0), declared from the descriptor in src/kernels/attn_rows.ts:
//   0  probs  storage read   [BH, L, S]: rows [l0, l0 + L) of each head's map of LT rows (all of it: l0 = 0, L = LT)
//   1  index  storage read   u32 [NI]: the chosen query rows (of LT), or key columns with COLUMNS, in output order
//   2  out    storage rw     [BH, NI, S] (the chosen rows inside [l0, l0 + L) written), or [BH, LT, NI] with COLUMNS
//                            (rows l0 .. l0 + L - 1 written)
//   3  p      uniform        Params
// Defines: COLUMNS. Overrides: WG. Grid: grid1d(ceil(n / WG)), n = BH*NI*S, or BH*L*NI with COLUMNS.

override WG: u32 = 64;

#include elementwise

fn unit(i: u32) {
#if COLUMNS
  let c = i % p.NI;
  let row = i / p.NI;  // bh * L + l
  out[((row / p.L) * p.LT + p.l0 + row % p.L) * p.NI + c] = probs[row * p.S + index[c]];
#else
  let s = i % p.S;
  let r = (i / p.S) % p.NI;
  let bh = i / (p.S * p.NI);
  let l = index[r];
  if (l >= p.l0 && l < p.l0 + p.L) {
    out[i] = probs[(bh * p.L + l - p.l0) * p.S + s];
  }
#endif
}
