// attn_topk.wgsl — per attention row (b, h, l) the K largest probabilities and their key indices, largest first;
// equal probabilities keep the lower key index first.
//
// Bindings (group 0), declared from the descriptor in src/kernels/attn_topk.ts:
//   0  probs    storage read   [BH, L, S]: rows [l0, l0 + L) of each head's map of LT rows (all of it: l0 = 0, L = LT)
//   1  values   storage rw     [BH, LT, K] the K largest, descending (rows l0 .. l0 + L - 1 written)
//   2  indices  storage rw     [BH, LT, K] their key indices, as f32 (exact: S <= 2^24)
//   3  p        uniform        Params
// Overrides: WG. Grid: grid1d(ceil(n / WG)), one invocation per row (n = BH*L): no barriers, no workgroup memory.
// The row's output is its own sorted list: a key enters only when it beats the K-th value (strictly, so a later equal
// value never displaces an earlier one) and slides up past the strictly smaller values. Every probability is >= 0,
// so starting the list at -1 fills it with the first K keys whatever they hold.

override WG: u32 = 64;

#include elementwise

fn unit(r: u32) {
  let base = ((r / p.L) * p.LT + p.l0 + r % p.L) * p.K;
  let last = base + p.K - 1u;
  for (var j = base; j <= last; j++) {
    values[j] = -1.0;
    indices[j] = 0.0;
  }
  let row = r * p.S;
  for (var s = 0u; s < p.S; s++) {
    let x = probs[row + s];
    if (!(x > values[last])) { continue; }
    var j = last;
    while (j > base && values[j - 1u] < x) {
      values[j] = values[j - 1u];
      indices[j] = indices[j - 1u];
      j--;
    }
    values[j] = x;
    indices[j] = f32(s);
  }
}
