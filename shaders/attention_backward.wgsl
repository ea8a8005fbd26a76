// attention_backward.wgsl — one per-head product of the attention backward pass, over strided operands:
//
//   C[b, h](m, n) = alpha * sum_k A[b, h](m, k) * B[b, h](k, n)
//
// Element (m, k) of A lives at aOff + b*aStrideB + h*aStrideH + m*aStrideM + k*aStrideK; B likewise
// with (k, n), C with (m, n). Strides make every operand of the backward pass a view with no copies:
// the strided Q/K/V/O row layouts of attention.wgsl (row stride strideL, head stride D, column stride 1),
// the contiguous [B, H, L, S] probabilities and their gradients, and their transposes (swap the strides).
// The host (src/kernels/attention_backward.ts) sets the four products up:
//   probs grad  dP[l, s] = sum_d dO[l, d] V[s, d]             M = L, N = S, K = D, alpha = 1
//   query grad  dQ[l, d] = scale * sum_s dS[l, s] K[s, d]     M = L, N = D, K = S
//   key grad    dK[s, d] = scale * sum_l dS[l, s] Q[l, d]     M = S, N = D, K = L  (A = dS transposed)
//   value grad  dV[s, d] = sum_l P[l, s] dO[l, d]             M = S, N = D, K = L  (A = P transposed)
// Only the M x N elements of C are written, so dQ, dK and dV may be column slices of one packed
// [rows, 3E] gradient buffer, written by three separate dispatches.
//
// Bindings (group 0):
//   0  a  storage read   A
//   1  b  storage read   B
//   2  c  storage rw     C   (must not share a GPUBuffer with A or B: WebGPU usage rules)
//   3  u  uniform        Params
//
// Overrides: WG (threads per side; the workgroup is WG x WG). Each thread owns a 4x4 block of C,
// rows lid.y + i*WG (acc_i), columns lid.x + j*WG (component j of acc_i), so a workgroup computes a
// (4*WG) x (4*WG) tile, stepping through K by TK with both tiles staged in workgroup memory. The
// blocks are vec4 registers (no private arrays: SwiftShader compiles dynamically indexed ones slowly).
// Grid: grid1d(H*B * tilesM * tilesN), id = wid.x + wid.y * nwg.x = ((b*H + h)*tilesM + tm)*tilesN + tn.

struct Params {
  M: u32, N: u32, K: u32, H: u32,
  tilesM: u32, tilesN: u32, count: u32, alpha: f32,
  aOff: u32, aStrideB: u32, aStrideH: u32, aStrideM: u32, aStrideK: u32,
  bOff: u32, bStrideB: u32, bStrideH: u32, bStrideK: u32, bStrideN: u32,
  cOff: u32, cStrideB: u32, cStrideH: u32, cStrideM: u32, cStrideN: u32,
}

override WG: u32 = 8;
const TK: u32 = 16u;

@group(0) @binding(0) var<storage, read> a: array<f32>;
@group(0) @binding(1) var<storage, read> b: array<f32>;
@group(0) @binding(2) var<storage, read_write> c: array<f32>;
@group(0) @binding(3) var<uniform> u: Params;

// k-major tiles: tileA[k * 4*WG + m], tileB[k * 4*WG + n].
var<workgroup> tileA: array<f32, TK * 4u * WG>;
var<workgroup> tileB: array<f32, TK * 4u * WG>;

// Row `row` of C from column col0 in steps of WG (component j -> column col0 + j*WG), inside M x N only.
fn storeRow(cb: u32, row: u32, col0: u32, v: vec4<f32>) {
  if (row >= u.M) { return; }
  let r = cb + row * u.cStrideM;
  if (col0 < u.N) { c[r + col0 * u.cStrideN] = u.alpha * v.x; }
  if (col0 + WG < u.N) { c[r + (col0 + WG) * u.cStrideN] = u.alpha * v.y; }
  if (col0 + 2u * WG < u.N) { c[r + (col0 + 2u * WG) * u.cStrideN] = u.alpha * v.z; }
  if (col0 + 3u * WG < u.N) { c[r + (col0 + 3u * WG) * u.cStrideN] = u.alpha * v.w; }
}

@compute @workgroup_size(WG, WG, 1)
fn main(
  @builtin(workgroup_id) wid: vec3<u32>,
  @builtin(num_workgroups) nwg: vec3<u32>,
  @builtin(local_invocation_id) lid: vec3<u32>,
) {
  let id = wid.x + wid.y * nwg.x;
  // Uniform across the workgroup, so returning keeps the barriers below in uniform control flow.
  if (id >= u.count) { return; }
  let BT = 4u * WG;
  let threads = WG * WG;
  let t = lid.y * WG + lid.x;
  let tn = id % u.tilesN;
  let tm = (id / u.tilesN) % u.tilesM;
  let bh = id / (u.tilesN * u.tilesM);
  let h = bh % u.H;
  let bb = bh / u.H;
  let row0 = tm * BT;
  let col0 = tn * BT;
  let ab = u.aOff + bb * u.aStrideB + h * u.aStrideH;
  let bbase = u.bOff + bb * u.bStrideB + h * u.bStrideH;

  var acc0 = vec4<f32>(0.0);
  var acc1 = vec4<f32>(0.0);
  var acc2 = vec4<f32>(0.0);
  var acc3 = vec4<f32>(0.0);
  for (var k0 = 0u; k0 < u.K; k0 += TK) {
    // Both tiles are TK x BT; zero past the edges of the operands so the products there vanish.
    for (var i = t; i < TK * BT; i += threads) {
      let k = i / BT;
      let x = i % BT;
      var va = 0.0;
      if (k0 + k < u.K && row0 + x < u.M) { va = a[ab + (row0 + x) * u.aStrideM + (k0 + k) * u.aStrideK]; }
      tileA[i] = va;
      var vb = 0.0;
      if (k0 + k < u.K && col0 + x < u.N) { vb = b[bbase + (k0 + k) * u.bStrideK + (col0 + x) * u.bStrideN]; }
      tileB[i] = vb;
    }
    workgroupBarrier();
    for (var k = 0u; k < TK; k++) {
      let ia = k * BT + lid.y;
      let ib = k * BT + lid.x;
      let av = vec4<f32>(tileA[ia], tileA[ia + WG], tileA[ia + 2u * WG], tileA[ia + 3u * WG]);
      let bv = vec4<f32>(tileB[ib], tileB[ib + WG], tileB[ib + 2u * WG], tileB[ib + 3u * WG]);
      acc0 = fma(vec4<f32>(av.x), bv, acc0);
      acc1 = fma(vec4<f32>(av.y), bv, acc1);
      acc2 = fma(vec4<f32>(av.z), bv, acc2);
      acc3 = fma(vec4<f32>(av.w), bv, acc3);
    }
    workgroupBarrier();
  }

  let cb = u.cOff + bb * u.cStrideB + h * u.cStrideH;
  storeRow(cb, row0 + lid.y, col0 + lid.x, acc0);
  storeRow(cb, row0 + lid.y + WG, col0 + lid.x, acc1);
  storeRow(cb, row0 + lid.y + 2u * WG, col0 + lid.x, acc2);
  storeRow(cb, row0 + lid.y + 3u * WG, col0 + lid.x, acc3);
}
