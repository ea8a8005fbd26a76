// attention_softmax.wgsl — the masked softmax step of attention computed as matmul, softmax, matmul,
// in place on the score rows:
//
//   P[b, h, l, :] = softmax_s(scale * P[b, h, l, s] + mask[(b*H + h), l, s] + keyPaddingMask[b, s])
//
// On entry P [B, H, L, S] holds the raw scores Q·Kᵀ of each (batch b, head h); on exit the probabilities.
// Causal: with causal != 0, key s is blocked for query l when s > l + causalOffset (the host passes S - L
// by default, right for keys that include a cached prefix); blocked keys get probability exactly 0 and are
// never read. A query whose keys are all blocked or masked (-inf) gets zero probabilities, not NaN: this
// matches PyTorch >= 2.5's MultiheadAttention and attention.wgsl.
//
// Bindings (group 0), declared from the descriptor in src/kernels/attention_softmax.ts:
//   0  probs  storage rw     P [B, H, L, S] contiguous (scores in, probabilities out)
//   1  mask   storage read   additive attn mask [L, S] (maskStrideBH = 0, broadcast) or [B*H, L, S]
//                            (maskStrideBH = L*S, PyTorch's 3-D form)      (only with MASK)
//   2  keyPaddingMask  storage read   additive key-padding mask [B, S]              (only with KPM)
//   3  p      uniform        Params
//
// Defines: MASK, KPM. Overrides: WG (threads per workgroup).
// One thread per row (b, h, l), no workgroup memory and no barriers: SwiftShader runs a workgroup's
// invocations as coroutines switched at every barrier, which made the tree reductions of a workgroup-per-row
// softmax cost ~20x more than this whole step for attention-sized rows. The thread walks its row three
// times (scores with masks and the max; exp and the sum; the normalisation), all in the same P row.
// Entry point: elementwise.wgsl over the n = B*H*L rows.

override WG: u32 = 64;

#include elementwise
#include lowest

fn unit(row: u32) {
  let bh = row / p.L;
  let l = row - bh * p.L;
  let base = row * p.S;
  // Keys 0..n-1 are live; causal blocks the rest.
  var n = p.S;
  if (p.causal != 0u) { n = u32(clamp(i32(l) + p.causalOffset + 1, 0, i32(p.S))); }
#if MASK
  let mb = bh * p.maskStrideBH + l * p.S;
#endif
#if KPM
  let kb = (bh / p.H) * p.S;
#endif

  // The running max starts at LOWEST, so a row of -inf ends with sum 0: the all-zero row.
  var m = LOWEST;
  for (var s = 0u; s < n; s++) {
    var x = p.scale * probs[base + s];
#if MASK
    x += mask[mb + s];
#endif
#if KPM
    x += keyPaddingMask[kb + s];
#endif
    probs[base + s] = x;
    m = max(m, x);
  }
  var sum = 0.0;
  for (var s = 0u; s < n; s++) {
    let e = exp(probs[base + s] - m);
    probs[base + s] = e;
    sum += e;
  }
  // sum == 0 only when every live score is -inf (or there is none): all zeros.
  if (sum > 0.0) {
    for (var s = 0u; s < n; s++) { probs[base + s] = probs[base + s] / sum; }
  } else {
    for (var s = 0u; s < n; s++) { probs[base + s] = 0.0; }
  }
  for (var s = n; s < p.S; s++) { probs[base + s] = 0.0; }
}
