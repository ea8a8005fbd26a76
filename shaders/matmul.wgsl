// matmul.wgsl — C[z] = op(A[z]) · op(B[z]) (+ bias), all row-major f32, rows of any stride.
//
// Bindings (group 0), declared from the descriptor MATMUL in src/kernels/matmul.ts:
//   0  a      storage read   A [batch][M rows of K], or [batch][K rows of M] with TRANS_A (C = Aᵀ·op(B): weight gradients)
//   1  b      storage read   B [batch][K rows of N], or [batch][N rows of K] with TRANS_B (PyTorch Linear weight [out, in]);
//                            f32, or under HALF 16-bit floats packed in pairs (BF16: bfloat16), read by
//                            shaders/common/matmul_b.wgsl (gb, vb), all indices in elements
//   2  c      storage rw     C [batch][M rows of N]
//   3  bias   storage read   [N]                                   (only with BIAS)
//   4  p      uniform        Params
// Row r of operand X in batch z starts at offX + (z / inner)*strideX + (z % inner)*innerX + r*ldX (elements).
// The dense defaults are ld = the stored row length, inner = 1 (innerX unused), so z*strideX; a stride of 0
// broadcasts that operand (one weight for every batch). The two-level batch and the row strides let the
// operands be strided per-head views: attention's Q·Kᵀ and P·V read Q/K/V as column slices of packed rows
// (z = b*H + h: outer stride = the batch stride of the rows, inner stride = the head dim).
//
// Defines: TRANS_A, TRANS_B, BIAS, HALF, BF16, VEC4 (vec4 loads along the stored rows: K % 4 == 0 for A, or M % 4 == 0
// with TRANS_A; K % 4 == 0 for B with TRANS_B, else N % 4 == 0; offsets, strides and lda / ldb multiples
// of 4 — the host checks). Overrides: WG (threads per side: 4, 8 or 16, matmul.ts workgroupSize). Each thread owns a
// 4x4 block of C, so one workgroup computes a (4*WG) x (4*WG) tile, stepping through K by TK.
// Grid: (ceil(N / (4*WG)), ceil(M / (4*WG)), batch).

override WG: u32 = 16;
const TM: u32 = 4u;
const TN: u32 = 4u;
const TK: u32 = 16u;

#include matmul_batch
#include matmul_b

// Tiles in workgroup memory, k-major so the inner loop reads rows of 4*WG contiguous values.
var<workgroup> tileA: array<f32, TK * TM * WG>;
var<workgroup> tileB: array<f32, TK * TN * WG>;

// Four consecutive values of a row-major matrix starting at flat index i (i % 4 == 0 under VEC4),
// zero past `valid` of them.
// (Written out by hand: dynamic indexing of private arrays/vectors makes SwiftShader's compiler crawl.)
fn load4A(i: u32, valid: u32) -> vec4<f32> {
#if VEC4
  return a[i / 4u];
#else
  var v = vec4<f32>(0.0);
  v.x = a[i];
  if (valid > 1u) { v.y = a[i + 1u]; }
  if (valid > 2u) { v.z = a[i + 2u]; }
  if (valid > 3u) { v.w = a[i + 3u]; }
  return v;
#endif
}

fn load4B(i: u32, valid: u32) -> vec4<f32> {
#if VEC4
  return vb(i);
#else
  var v = vec4<f32>(0.0);
  v.x = gb(i);
  if (valid > 1u) { v.y = gb(i + 1u); }
  if (valid > 2u) { v.z = gb(i + 2u); }
  if (valid > 3u) { v.w = gb(i + 3u); }
  return v;
#endif
}

// Stores v (4 values) at tile[base], tile[base + step], ... : a quad along K goes to 4 k-rows.
fn storeA(base: u32, step: u32, v: vec4<f32>) {
  tileA[base] = v.x;
  tileA[base + step] = v.y;
  tileA[base + 2u * step] = v.z;
  tileA[base + 3u * step] = v.w;
}

fn storeB(base: u32, step: u32, v: vec4<f32>) {
  tileB[base] = v.x;
  tileB[base + step] = v.y;
  tileB[base + 2u * step] = v.z;
  tileB[base + 3u * step] = v.w;
}

fn storeC(baseC: u32, row: u32, col0: u32, v: vec4<f32>) {
  if (row >= p.M) { return; }
  for (var j = 0u; j < TN; j++) {
    let col = col0 + j * WG;
    if (col >= p.N) { return; }
    var x = v.x;
    if (j == 1u) { x = v.y; } else if (j == 2u) { x = v.z; } else if (j == 3u) { x = v.w; }
    x *= p.alpha;
#if BIAS
    x += bias[col];
#endif
    c[baseC + row * p.ldc + col] = x;
  }
}

@compute @workgroup_size(WG, WG, 1)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_id) lid: vec3<u32>) {
  let BM = TM * WG;
  let BN = TN * WG;
  let threads = WG * WG;
  let t = lid.y * WG + lid.x;
  let row0 = wid.y * BM;
  let col0 = wid.x * BN;
  let base = batchBase(wid.z);
  let baseA = base.x;
  let baseB = base.y;

  // The thread's 4x4 block of C: rows lid.y + i*WG (acc_i), columns lid.x + j*WG (component j).
  var acc0 = vec4<f32>(0.0);
  var acc1 = vec4<f32>(0.0);
  var acc2 = vec4<f32>(0.0);
  var acc3 = vec4<f32>(0.0);
  for (var k0 = 0u; k0 < p.K; k0 += TK) {
#if TRANS_A
    // A stored [K, M]: TK rows of A x BM columns, loaded as quads along M (like B without TRANS_B).
    for (var i = t; i < TK * BM / 4u; i += threads) {
      let k = i / (BM / 4u);
      let mq = (i % (BM / 4u)) * 4u;
      var v = vec4<f32>(0.0);
      if (k0 + k < p.K && row0 + mq < p.M) {
        v = load4A(baseA + (k0 + k) * p.lda + row0 + mq, p.M - row0 - mq);
      }
      storeA(k * BM + mq, 1u, v);
    }
#else
    // A tile: BM rows x TK columns, loaded as quads along K.
    for (var i = t; i < BM * TK / 4u; i += threads) {
      let r = i / (TK / 4u);
      let kq = (i % (TK / 4u)) * 4u;
      var v = vec4<f32>(0.0);
      if (row0 + r < p.M && k0 + kq < p.K) {
        v = load4A(baseA + (row0 + r) * p.lda + k0 + kq, p.K - k0 - kq);
      }
      storeA(kq * BM + r, BM, v);
    }
#endif
#if TRANS_B
    // B stored [N, K]: the tile is BN rows of B x TK, loaded like A.
    for (var i = t; i < BN * TK / 4u; i += threads) {
      let n = i / (TK / 4u);
      let kq = (i % (TK / 4u)) * 4u;
      var v = vec4<f32>(0.0);
      if (col0 + n < p.N && k0 + kq < p.K) {
        v = load4B(baseB + (col0 + n) * p.ldb + k0 + kq, p.K - k0 - kq);
      }
      storeB(kq * BN + n, BN, v);
    }
#else
    // B stored [K, N]: TK rows x BN columns, loaded as quads along N.
    for (var i = t; i < TK * BN / 4u; i += threads) {
      let k = i / (BN / 4u);
      let nq = (i % (BN / 4u)) * 4u;
      var v = vec4<f32>(0.0);
      if (k0 + k < p.K && col0 + nq < p.N) {
        v = load4B(baseB + (k0 + k) * p.ldb + col0 + nq, p.N - col0 - nq);
      }
      storeB(k * BN + nq, 1u, v);
    }
#endif
    workgroupBarrier();
    for (var k = 0u; k < TK; k++) {
      let ia = k * BM + lid.y;
      let ib = k * BN + lid.x;
      let av = vec4<f32>(tileA[ia], tileA[ia + WG], tileA[ia + 2u * WG], tileA[ia + 3u * WG]);
      let bv = vec4<f32>(tileB[ib], tileB[ib + WG], tileB[ib + 2u * WG], tileB[ib + 3u * WG]);
      acc0 = fma(vec4<f32>(av.x), bv, acc0);
      acc1 = fma(vec4<f32>(av.y), bv, acc1);
      acc2 = fma(vec4<f32>(av.z), bv, acc2);
      acc3 = fma(vec4<f32>(av.w), bv, acc3);
    }
    workgroupBarrier();
  }

  let baseC = base.z;
  let r = row0 + lid.y;
  let col = col0 + lid.x;
  storeC(baseC, r, col, acc0);
  storeC(baseC, r + WG, col, acc1);
  storeC(baseC, r + 2u * WG, col, acc2);
  storeC(baseC, r + 3u * WG, col, acc3);
}
