// attn_select.wgsl — the part of attention probabilities a hook asked for, cut on the GPU before copy-back:
// chosen heads, a query range, optionally averaged over the chosen heads.
//
// Bindings (group 0), declared from the descriptor in src/kernels/attn_select.ts:
//   0  probs  storage read   [B, H, L, S]
//   1  heads  storage read   u32 [NH]: the heads to keep, in output order
//   2  out    storage rw     [B, NH, LQ, S], or [B, LQ, S] with AVERAGE (mean over the NH heads)
//   3  p      uniform        Params
// Defines: AVERAGE. Overrides: WG. Grid: grid1d(ceil(n / WG)) over the n output elements.

override WG: u32 = 256;

#include elementwise

fn unit(i: u32) {
  let s = i % p.S;
  let l = (i / p.S) % p.LQ;
#if AVERAGE
  let b = i / (p.S * p.LQ);
  var acc = 0.0;
  for (var h = 0u; h < p.NH; h++) {
    acc += probs[((b * p.H + heads[h]) * p.L + p.l0 + l) * p.S + s];
  }
  out[i] = acc / f32(p.NH);
#else
  let hh = (i / (p.S * p.LQ)) % p.NH;
  let b = i / (p.S * p.LQ * p.NH);
  out[i] = probs[((b * p.H + heads[hh]) * p.L + p.l0 + l) * p.S + s];
#endif
}
