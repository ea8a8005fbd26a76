// attention_flash.wgsl — memory-efficient scaled-dot-product attention for CPU adapters: one invocation per query row
// (b, h, l), an online softmax over the keys, no barriers, no workgroup memory, nothing of size [L, S] anywhere.
//
//   O[b, h, l, :] = sum_s P[s] V[b, g, s, :],  P = softmax_s(scale * Q[b, h, l, :] · K[b, g, s, :] + mask + kpm)
//
// with g = h / G the key / value head of query head h (grouped-query attention; G = 1: g = h). Layouts, masks and
// causal blocking are attention.wgsl's (same uniforms): element (b, h, i, d) of Q at qOff + b*qStrideB + i*qStrideL
// + h*D + d; K and V at their own offsets and strides with head g; O at the o layout.
//
// Bindings (group 0), declared from the descriptor in src/kernels/attention_flash.ts:
//   0  q    storage read   1  k  storage read   2  v  storage read   3  o  storage rw (must not alias q, k, v)
//   4  mask storage read   additive [L, S] (maskStrideBH = 0) or [B*H, L, S]; read only when hasMask != 0
//   5  keyPaddingMask  storage read   additive [B, S]; read only when hasKpm != 0
//   6  p    uniform        Params
// Overrides: WG. Grid: grid1d(ceil(n / WG)), n = B*H*ceil(L/4): one invocation per 4 queries l0..l0+3 of a head, in
// the lanes of a vec4 (each K and V element is loaded once for the four). D <= DMAX = 256.
// Private arrays of DMAX vec4: qT[d] = scale * the 4 queries' column d, acc[d] = their output column d. Per key:
// x = q·k + masks per lane, LOWEST where blocked (causal, -inf, or a lane past L). Keys go in blocks of 4: where the
// block's max passes a lane's running max m, that lane's sum and accumulator are rescaled by exp(m - max); then
// w = exp(x - m) (0 where blocked), sum += w, acc += w * v. A row with every key blocked ends with sum 0 and writes zeros (attention.wgsl's rule,
// PyTorch >= 2.5).

override WG: u32 = 64;
const DMAX: u32 = 256u;
const LOWEST4 = vec4<f32>(LOWEST);

#include lowest
#include elementwise

fn qAt(qb: u32, l: u32, d: u32) -> f32 {
  if (l >= p.L) { return 0.0; }
  return q[qb + l * p.qStrideL + d];
}

// The mask entry of query l (clamped to a real row: rows past L are dead anyway) for key s.
fn maskAt(mb: u32, l: u32, s: u32) -> f32 {
  return mask[mb + min(l, p.L - 1u) * p.S + s];
}

fn storeCol(ob: u32, l0: u32, c: u32, y: vec4<f32>) {
  o[ob + c] = y.x;
  if (l0 + 1u < p.L) { o[ob + p.oStrideL + c] = y.y; }
  if (l0 + 2u < p.L) { o[ob + 2u * p.oStrideL + c] = y.z; }
  if (l0 + 3u < p.L) { o[ob + 3u * p.oStrideL + c] = y.w; }
}

// Scores x of key s for the 4 queries with the masks added; LOWEST where the key is blocked (past send, causal,
// -inf) or the lane is past L.
fn masked(x0: vec4<f32>, s: u32, send: u32, l0: u32, ls: vec4<i32>, real: vec4<bool>, mb: u32, b: u32) -> vec4<f32> {
  if (s >= send) { return LOWEST4; }
  var x = x0;
  if (p.hasMask != 0u) { x += vec4<f32>(maskAt(mb, l0, s), maskAt(mb, l0 + 1u, s), maskAt(mb, l0 + 2u, s), maskAt(mb, l0 + 3u, s)); }
  if (p.hasKpm != 0u) { x += vec4<f32>(keyPaddingMask[b * p.S + s]); }
  var live = real & (x > LOWEST4);
  if (p.causal != 0u) { live &= vec4<i32>(i32(s)) <= ls + vec4<i32>(p.causalOffset); }
  return select(LOWEST4, x, live);
}

// exp(x - m), exactly 0 for a blocked key.
fn weight(x: vec4<f32>, m: vec4<f32>) -> vec4<f32> {
  return select(vec4<f32>(0.0), exp(x - m), x > LOWEST4);
}

fn unit(i: u32) {
  let nqb = (p.L + 3u) / 4u;
  let bh = i / nqb;
  let l0 = (i % nqb) * 4u;
  let h = bh % p.H;
  let b = bh / p.H;
  let g = h / p.G;
  var qT: array<vec4<f32>, DMAX>;
  var acc: array<vec4<f32>, DMAX>;
  let qb = p.qOff + b * p.qStrideB + h * p.D;
  for (var d = 0u; d < p.D; d++) {
    qT[d] = p.scale * vec4<f32>(qAt(qb, l0, d), qAt(qb, l0 + 1u, d), qAt(qb, l0 + 2u, d), qAt(qb, l0 + 3u, d));
    acc[d] = vec4<f32>(0.0);
  }
  let kb = p.kOff + b * p.kStrideB + g * p.D;
  let vb = p.vOff + b * p.vStrideB + g * p.D;
  let mb = bh * p.maskStrideBH;
  let ls = vec4<i32>(i32(l0)) + vec4<i32>(0, 1, 2, 3);
  let real = ls < vec4<i32>(i32(p.L));
  // Keys past the last lane's causal limit are blocked for all four.
  var send = p.S;
  if (p.causal != 0u) { send = u32(clamp(i32(min(l0 + 3u, p.L - 1u)) + p.causalOffset + 1, 0, i32(p.S))); }
  var m = LOWEST4;
  var sum = vec4<f32>(0.0);
  // Keys in blocks of 4: the four score vectors share each qT[d] read, one max update per block, and one read-write of
  // acc[d] adds all four keys' values.
  for (var s0 = 0u; s0 < send; s0 += 4u) {
    var x0 = vec4<f32>(0.0);
    var x1 = vec4<f32>(0.0);
    var x2 = vec4<f32>(0.0);
    var x3 = vec4<f32>(0.0);
    // Keys past send are read as key send - 1 (in bounds) and blocked below.
    let r0 = kb + s0 * p.kStrideL;
    let r1 = kb + min(s0 + 1u, send - 1u) * p.kStrideL;
    let r2 = kb + min(s0 + 2u, send - 1u) * p.kStrideL;
    let r3 = kb + min(s0 + 3u, send - 1u) * p.kStrideL;
    for (var d = 0u; d < p.D; d++) {
      let qd = qT[d];
      x0 = fma(qd, vec4<f32>(k[r0 + d]), x0);
      x1 = fma(qd, vec4<f32>(k[r1 + d]), x1);
      x2 = fma(qd, vec4<f32>(k[r2 + d]), x2);
      x3 = fma(qd, vec4<f32>(k[r3 + d]), x3);
    }
    x0 = masked(x0, s0, send, l0, ls, real, mb, b);
    x1 = masked(x1, s0 + 1u, send, l0, ls, real, mb, b);
    x2 = masked(x2, s0 + 2u, send, l0, ls, real, mb, b);
    x3 = masked(x3, s0 + 3u, send, l0, ls, real, mb, b);
    let mNew = max(max(m, max(x0, x1)), max(x2, x3));
    if (all(mNew == LOWEST4)) { continue; }
    if (any(mNew > m)) {
      let alpha = exp(m - mNew);
      sum *= alpha;
      for (var d = 0u; d < p.D; d++) { acc[d] *= alpha; }
      m = mNew;
    }
    let w0 = weight(x0, m);
    let w1 = weight(x1, m);
    let w2 = weight(x2, m);
    let w3 = weight(x3, m);
    sum += (w0 + w1) + (w2 + w3);
    let v0 = vb + s0 * p.vStrideL;
    let v1 = vb + min(s0 + 1u, send - 1u) * p.vStrideL;
    let v2 = vb + min(s0 + 2u, send - 1u) * p.vStrideL;
    let v3 = vb + min(s0 + 3u, send - 1u) * p.vStrideL;
    for (var d = 0u; d < p.D; d++) {
      acc[d] = fma(w3, vec4<f32>(v[v3 + d]), fma(w2, vec4<f32>(v[v2 + d]), fma(w1, vec4<f32>(v[v1 + d]), fma(w0, vec4<f32>(v[v0 + d]), acc[d]))));
    }
  }
  let inv = select(vec4<f32>(0.0), 1.0 / sum, sum > vec4<f32>(0.0));
  let ob = p.oOff + b * p.oStrideB + l0 * p.oStrideL + h * p.D;
  for (var d = 0u; d < p.D; d++) { storeCol(ob, l0, d, acc[d] * inv); }
}
