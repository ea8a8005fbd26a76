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
// Overrides: WG. Grid: grid1d(ceil(n / WG)), n = B*H*L rows. D <= 4 * DQ = 256.
// The row's q (times scale) and its output accumulator live in private arrays of vec4 (DQ = 64 quads). Per key:
// x = q·k + masks; a key blocked by causal or scoring -inf is skipped. When x passes the running max m the sum and the
// accumulator are rescaled by exp(m - x); then w = exp(x - m), sum += w, acc += w * v. A row with every key blocked
// ends with sum 0 and writes zeros (attention.wgsl's rule, PyTorch >= 2.5).

override WG: u32 = 64;
const DQ: u32 = 64u;

#include lowest
#include elementwise

// Indices of columns 4c .. 4c+3 of the row at base, clamped to its last column D - 1 (in bounds whatever D is: a
// column past D is read as a copy of the last, and q's are zeroed, so it adds nothing).
fn cols(base: u32, c: u32) -> vec4<u32> {
  return base + min(vec4<u32>(4u * c) + vec4<u32>(0u, 1u, 2u, 3u), vec4<u32>(p.D - 1u));
}

fn unit(i: u32) {
  let l = i % p.L;
  let bh = i / p.L;
  let h = bh % p.H;
  let b = bh / p.H;
  let g = h / p.G;
  let nq = (p.D + 3u) / 4u;
  var qs: array<vec4<f32>, DQ>;
  var acc: array<vec4<f32>, DQ>;
  let qb = p.qOff + b * p.qStrideB + l * p.qStrideL + h * p.D;
  for (var c = 0u; c < nq; c++) {
    let j = cols(qb, c);
    let live = vec4<u32>(4u * c) + vec4<u32>(0u, 1u, 2u, 3u) < vec4<u32>(p.D);
    qs[c] = select(vec4<f32>(0.0), p.scale * vec4<f32>(q[j.x], q[j.y], q[j.z], q[j.w]), live);
    acc[c] = vec4<f32>(0.0);
  }
  let kb = p.kOff + b * p.kStrideB + g * p.D;
  let vb = p.vOff + b * p.vStrideB + g * p.D;
  let mb = bh * p.maskStrideBH + l * p.S;
  var m = LOWEST;
  var sum = 0.0;
  var send = p.S;
  if (p.causal != 0u) { send = u32(clamp(i32(l) + p.causalOffset + 1, 0, i32(p.S))); }
  for (var s = 0u; s < send; s++) {
    let kr = kb + s * p.kStrideL;
    var d4 = vec4<f32>(0.0);
    for (var c = 0u; c < nq; c++) {
      let j = cols(kr, c);
      d4 = fma(qs[c], vec4<f32>(k[j.x], k[j.y], k[j.z], k[j.w]), d4);
    }
    var x = d4.x + d4.y + d4.z + d4.w;
    if (p.hasMask != 0u) { x += mask[mb + s]; }
    if (p.hasKpm != 0u) { x += keyPaddingMask[b * p.S + s]; }
    if (!(x > LOWEST)) { continue; }
    if (x > m) {
      let alpha = exp(m - x);
      sum *= alpha;
      for (var c = 0u; c < nq; c++) { acc[c] *= alpha; }
      m = x;
    }
    let w = exp(x - m);
    sum += w;
    let vr = vb + s * p.vStrideL;
    for (var c = 0u; c < nq; c++) {
      let j = cols(vr, c);
      acc[c] = fma(vec4<f32>(w), vec4<f32>(v[j.x], v[j.y], v[j.z], v[j.w]), acc[c]);
    }
  }
  let inv = select(0.0, 1.0 / sum, sum > 0.0);
  let ob = p.oOff + b * p.oStrideB + l * p.oStrideL + h * p.D;
  for (var c = 0u; c < nq; c++) {
    let y = acc[c] * inv;
    let d = c * 4u;
    o[ob + d] = y.x;
    if (d + 1u < p.D) { o[ob + d + 1u] = y.y; }
    if (d + 2u < p.D) { o[ob + d + 2u] = y.z; }
    if (d + 3u < p.D) { o[ob + d + 3u] = y.w; }
  }
}
