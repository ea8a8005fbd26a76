// attention.wgsl — scaled-dot-product attention per head, reading Q/K/V from strided row layouts.
//
//   O[b, h, l, :] = sum_s P[b, h, l, s] V[b, h, s, :],
//   P[b, h, l, :] = softmax_s(scale * Q[b, h, l, :] · K[b, g, s, :] + mask[(b*H + h), l, s] + keyPaddingMask[b, s])
//
// with g = h / G the key / value head of query head h (G query heads share one: grouped-query attention; G = 1
// otherwise). Element (b, h, l, d) of Q lives at qOff + b*qStrideB + l*qStrideL + h*D + d; K and V likewise with
// (b, g, s, d) and their own offsets and strides; O is written at oOff + b*oStrideB + l*oStrideL + h*D + d.
// This fuses PyTorch's head split/merge: Q, K and V can be column slices of one packed in_proj output
// [rows, 3E] (offsets 0, E, 2E; row stride 3E), for batch_first (row = b*L + l) or seq-first (row = l*B + b).
//
// Bindings (group 0), declared from the descriptor in src/kernels/attention.ts:
//   0  q      storage read   Q rows
//   1  k      storage read   K rows
//   2  v      storage read   V rows        (q, k and v may be one buffer)
//   3  o      storage rw     O rows        (must not alias q, k or v)
//   4  mask   storage read   additive attn mask [L, S] (maskStrideBH = 0, broadcast) or [B*H, L, S]
//                            (maskStrideBH = L*S, PyTorch's 3-D form); read only when hasMask != 0
//   5  keyPaddingMask  storage read   additive key-padding mask [B, S]; read only when hasKpm != 0
//   6  probs  storage rw     P [B, H, L, S] contiguous (PROBS only)
//   7  p      uniform        Params
//
// Causal: with causal != 0, key s is blocked for query l when s > l + causalOffset. The host passes
// causalOffset = S - L, so the last query sees every key: right for keys that include a cached prefix.
// A query whose keys are all blocked or masked (-inf) gets zero probabilities and a zero output, not
// NaN: this matches PyTorch >= 2.5's MultiheadAttention (PyTorch 1.13 gives NaN).
//
// Defines: PROBS. Overrides: WG (threads per workgroup, a power of two); D <= DMAX = 4*WG.
// One workgroup per (block of 4 queries l0..l0+3, head h, batch b): grid1d(B*H*ceil(L/4)),
// id = wid.x + wid.y * nwg.x = (b*H + h)*ceil(L/4) + l0/4. The four queries ride in the lanes of a vec4
// everywhere (no private arrays: SwiftShader compiles dynamically indexed ones very slowly):
//   qT[d]   = scale * (Q[l0, d], Q[l0+1, d], Q[l0+2, d], Q[l0+3, d])   (workgroup memory)
//   keys go in blocks of WG; thread t scores key s0 + t against the 4 queries (one vec4 per d step),
//   wT[t]   = the 4 weights of key s0 + t                                (workgroup memory)
//   acc_i   = output column t + i*WG for the 4 queries (i = 0..3)        (registers)
//   per block: acc_i = acc_i * alpha + sum_j wT[j] * V[s0 + j, t + i*WG].
// fused (no PROBS): online softmax. Per block the max over the block (a tree reduction), the rescale
//   alpha = exp(m_old - m_new) and the weights exp(x - m_new); each thread keeps its share of the sum,
//   reduced once at the end. Output = acc / sum. The probabilities never leave the workgroup.
// PROBS: pass 1 writes the raw scores to the probs rows (the scratch, so S is unbounded) while each
//   thread keeps a running max and sum of its own keys; two reductions combine them. Pass 2 rewrites
//   each score as exp(x - max) / sum (the exact probability) and accumulates P·V with those weights.
//   A probs element is written and read back by the same thread (s = t + k*WG): no storage barrier.

override WG: u32 = 64;
alias Red = vec4<f32>;
// Blocked keys score LOWEST and get weight exactly 0, so a query with every key blocked ends with sum 0: zero output.
const LOWEST4 = vec4<f32>(LOWEST);

#include grid
#include lowest
#include reduce

var<workgroup> qT: array<vec4<f32>, 4u * WG>;
var<workgroup> wT: array<vec4<f32>, WG>;

// Key s takes part in query l's softmax (l < L, s < S, not blocked by causal).
fn live(l: u32, s: u32) -> bool {
  return l < p.L && s < p.S && !(p.causal != 0u && i32(s) > i32(l) + p.causalOffset);
}

fn live4(l0: u32, s: u32) -> vec4<bool> {
  return vec4<bool>(live(l0, s), live(l0 + 1u, s), live(l0 + 2u, s), live(l0 + 3u, s));
}

// The mask entry of query l (clamped to a real row: rows past L are dead anyway) for key s.
fn maskAt(mb: u32, l: u32, s: u32) -> f32 {
  return mask[mb + min(l, p.L - 1u) * p.S + s];
}

// scale * q · k[s] + mask + kpm for the 4 queries, s < S. kb: K base without s; mb, pb: mask bases.
fn scores(l0: u32, kb: u32, mb: u32, pb: u32, s: u32) -> vec4<f32> {
  let kr = kb + s * p.kStrideL;
  var dot = vec4<f32>(0.0);
  for (var d = 0u; d < p.D; d++) { dot = fma(qT[d], vec4<f32>(k[kr + d]), dot); }
  var add = vec4<f32>(0.0);
  if (p.hasMask != 0u) { add = vec4<f32>(maskAt(mb, l0, s), maskAt(mb, l0 + 1u, s), maskAt(mb, l0 + 2u, s), maskAt(mb, l0 + 3u, s)); }
  if (p.hasKpm != 0u) { add += vec4<f32>(keyPaddingMask[pb + s]); }
  return dot + add;
}

// Scores of key s for the 4 queries, LOWEST where blocked.
fn liveScores(l0: u32, kb: u32, mb: u32, pb: u32, s: u32, lv: vec4<bool>) -> vec4<f32> {
  if (!any(lv)) { return LOWEST4; }
  return select(LOWEST4, scores(l0, kb, mb, pb, s), lv);
}

#if PROBS
// probs[row0 + r*S + s] = x[r] for the queries l0 + r < L.
fn putProbs(row0: u32, l0: u32, s: u32, x: vec4<f32>) {
  probs[row0 + s] = x.x;
  if (l0 + 1u < p.L) { probs[row0 + p.S + s] = x.y; }
  if (l0 + 2u < p.L) { probs[row0 + 2u * p.S + s] = x.z; }
  if (l0 + 3u < p.L) { probs[row0 + 3u * p.S + s] = x.w; }
}

fn getProbs(row0: u32, l0: u32, s: u32) -> vec4<f32> {
  var x = vec4<f32>(0.0);
  x.x = probs[row0 + s];
  if (l0 + 1u < p.L) { x.y = probs[row0 + p.S + s]; }
  if (l0 + 2u < p.L) { x.z = probs[row0 + 2u * p.S + s]; }
  if (l0 + 3u < p.L) { x.w = probs[row0 + 3u * p.S + s]; }
  return x;
}
#endif

// Output column c (c < D) of the queries l0 + r < L; ob: O base of query l0 without the column.
fn storeCol(ob: u32, l0: u32, c: u32, y: vec4<f32>) {
  if (c >= p.D) { return; }
  o[ob + c] = y.x;
  if (l0 + 1u < p.L) { o[ob + p.oStrideL + c] = y.y; }
  if (l0 + 2u < p.L) { o[ob + 2u * p.oStrideL + c] = y.z; }
  if (l0 + 3u < p.L) { o[ob + 3u * p.oStrideL + c] = y.w; }
}

fn qAt(qb: u32, l: u32, d: u32) -> f32 {
  if (l >= p.L) { return 0.0; }
  return q[qb + l * p.qStrideL + d];
}

@compute @workgroup_size(WG, 1, 1)
fn main(
  @builtin(workgroup_id) wid: vec3<u32>,
  @builtin(num_workgroups) nwg: vec3<u32>,
  @builtin(local_invocation_id) lid: vec3<u32>,
) {
  let nqb = (p.L + 3u) / 4u;
  let id = workgroupIndex(wid, nwg);
  // Uniform across the workgroup, so returning keeps the barriers below in uniform control flow.
  if (id >= p.B * p.H * nqb) { return; }
  let t = lid.x;
  let bh = id / nqb;
  let l0 = (id - bh * nqb) * 4u;
  let h = bh % p.H;
  let b = bh / p.H;

  let qb = p.qOff + b * p.qStrideB + h * p.D;
  for (var d = t; d < p.D; d += WG) {
    qT[d] = p.scale * vec4<f32>(qAt(qb, l0, d), qAt(qb, l0 + 1u, d), qAt(qb, l0 + 2u, d), qAt(qb, l0 + 3u, d));
  }
  workgroupBarrier();

  let kb = p.kOff + b * p.kStrideB + (h / p.G) * p.D;
  let vb = p.vOff + b * p.vStrideB + (h / p.G) * p.D;
  let mb = bh * p.maskStrideBH;
  let pb = b * p.S;
  var acc0 = vec4<f32>(0.0);
  var acc1 = vec4<f32>(0.0);
  var acc2 = vec4<f32>(0.0);
  var acc3 = vec4<f32>(0.0);

#if PROBS
  let row0 = (bh * p.L + l0) * p.S;  // probs[b, h, l0, 0]
  // Pass 1: raw scores into probs; this thread's running max and sum over its keys.
  var mt = LOWEST4;
  var st = vec4<f32>(0.0);
  for (var s = t; s < p.S; s += WG) {
    let lv = live4(l0, s);
    let x = liveScores(l0, kb, mb, pb, s, lv);
    putProbs(row0, l0, s, x);
    let mNew = max(mt, x);
    st = st * exp(mt - mNew) + select(vec4<f32>(0.0), exp(x - mNew), lv);
    mt = mNew;
  }
  let m = reduceMax(t, mt);
  let sum = reduceSum(t, st * exp(mt - m));
#else
  var m = LOWEST4;            // running max over the blocks so far
  var st = vec4<f32>(0.0);    // this thread's share of the running sum, in units of exp(. - m)
#endif

  for (var s0 = 0u; s0 < p.S; s0 += WG) {
    let s = s0 + t;
    let lv = live4(l0, s);
#if PROBS
    var w = vec4<f32>(0.0);
    if (s < p.S) {
      w = select(vec4<f32>(0.0), exp(getProbs(row0, l0, s) - m) / sum, lv & (sum > vec4<f32>(0.0)));
      putProbs(row0, l0, s, w);
    }
#else
    let x = liveScores(l0, kb, mb, pb, s, lv);
    let mNew = max(m, reduceMax(t, x));
    let alpha = exp(m - mNew);
    let w = select(vec4<f32>(0.0), exp(x - mNew), lv);
    st = st * alpha + w;
    m = mNew;
    acc0 *= alpha;
    acc1 *= alpha;
    acc2 *= alpha;
    acc3 *= alpha;
#endif
    wT[t] = w;
    workgroupBarrier();
    let nk = min(WG, p.S - s0);
    for (var j = 0u; j < nk; j++) {
      let wj = wT[j];
      if (all(wj == vec4<f32>(0.0))) { continue; }
      let vr = vb + (s0 + j) * p.vStrideL + t;
      if (t < p.D) { acc0 = fma(wj, vec4<f32>(v[vr]), acc0); }
      if (t + WG < p.D) { acc1 = fma(wj, vec4<f32>(v[vr + WG]), acc1); }
      if (t + 2u * WG < p.D) { acc2 = fma(wj, vec4<f32>(v[vr + 2u * WG]), acc2); }
      if (t + 3u * WG < p.D) { acc3 = fma(wj, vec4<f32>(v[vr + 3u * WG]), acc3); }
    }
    workgroupBarrier();
  }

#if PROBS
  let inv = vec4<f32>(1.0);
#else
  let sum = reduceSum(t, st);
  let inv = select(vec4<f32>(0.0), 1.0 / sum, sum > vec4<f32>(0.0));
#endif
  let ob = p.oOff + b * p.oStrideB + l0 * p.oStrideL + h * p.D;
  storeCol(ob, l0, t, acc0 * inv);
  storeCol(ob, l0, t + WG, acc1 * inv);
  storeCol(ob, l0, t + 2u * WG, acc2 * inv);
  storeCol(ob, l0, t + 3u * WG, acc3 * inv);
}
