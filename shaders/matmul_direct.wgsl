// matmul_direct.wgsl — C[z] = op(A[z]) · op(B[z]) (+ bias): matmul.wgsl's contract (bindings, Params, batch and
// row-stride layout, defines TRANS_A, TRANS_B, BIAS, VEC4 with the same host checks) without workgroup memory or
// barriers, for CPU adapters.
//
// Each invocation computes a 16x16 block of C straight from global memory, stepping through K by 4: per step it reads
// a 4x4 quad of A for each 4 rows of the block and of B for each 4 columns (vec4 loads along the stored rows under
// VEC4) and adds their products into sixteen mat4x4 accumulators. Why 16x16: on SwiftShader every load an invocation
// makes is a gather (per lane: a branch, a scalar load and an insert), so loads, not multiply-adds, set the pace: a
// 16x16 block loads 128 floats per 4 steps of K for 1024 multiply-adds (an 8x8 block 64 for 256), and that pays more
// than its accumulators cost in stack spills (1.3-1.5x faster than 8x8 on the model's Linear shapes, interleaved:
// docs/speed.md). Rows and columns past the edge of C read a valid one
// (clamped) and are not stored; when K is not a multiple of 4 the last K % 4 steps read single elements.
// Why: SwiftShader runs a workgroup's invocations as coroutines, switching through all of them at every barrier, and
// its workgroup memory is ordinary memory, so the tiled kernel's staging costs more than it saves there
// (bench:kernels: ~2.5x faster on the model's Linear shapes).
//
// Bindings (group 0): 0 a, 1 b, 2 c, 3 bias (only with BIAS), 4 p: matmul.wgsl's (the descriptor MATMUL); B may be
// 16-bit floats packed in pairs (HALF, BF16: shaders/common/matmul_b.wgsl).
// With ROW each invocation computes one row of C, 8 columns (a decode step's M = 1 would otherwise compute 15 rows
// of each block only to throw them away, and 7 of every 8 invocations would have no row at all).
// Defines: matmul.wgsl's (HALF and BF16 included), ROW, and SUBGROUP: the 4 lanes of a subgroup (4 invocations of one
// row of blocks) each load one of the block's 4 quads of A and share them by subgroupBroadcast, a quarter of A's
// gathers (the host sets it where subgroups are exactly 4 invocations: SwiftShader; 1.1-1.3x faster there).
// Overrides: WG (threads per side: WG x WG invocations as a 1-D workgroup, a (16*WG) x (16*WG) tile of C; with ROW
// a 1 x (8*WG*WG) tile).
// Grid: (ceil(N / (16*WG)), ceil(M / (16*WG)), batch); with ROW (ceil(N / (8*WG*WG)), M, batch).

#if SUBGROUP
enable subgroups;
// The one branch before the broadcasts (blocks past M leave) is uniform in each subgroup, which WGSL's analysis cannot
// see: a subgroup's 4 lanes are 4 consecutive invocations of one row of blocks.
diagnostic(off, subgroup_uniformity);
#endif

override WG: u32 = 8;

#include matmul_batch
#include matmul_b

// One element of A at flat index i (only the K tail reads single elements); B's gb and vb are matmul_b.wgsl's.
fn ga(i: u32) -> f32 {
#if VEC4
  return a[i / 4u][i % 4u];
#else
  return a[i];
#endif
}

// Four consecutive elements from flat index i (i % 4 == 0 under VEC4).
fn va(i: u32) -> vec4<f32> {
#if VEC4
  return a[i / 4u];
#else
  return vec4<f32>(a[i], a[i + 1u], a[i + 2u], a[i + 3u]);
#endif
}

// Four elements of one stored row at row + o (the clamped offsets along M or N). Under VEC4 o.x is a multiple of 4,
// or the last index (M - 1 or N - 1) for a quad wholly past the edge, which reads the row's last (valid) quad.
fn ra4(row: u32, o: vec4<u32>) -> vec4<f32> {
#if VEC4
  return a[(row + o.x) / 4u];
#else
  return vec4<f32>(a[row + o.x], a[row + o.y], a[row + o.z], a[row + o.w]);
#endif
}

fn rb4(row: u32, o: vec4<u32>) -> vec4<f32> {
#if VEC4
  return vb(row + o.x);
#else
  return vec4<f32>(gb(row + o.x), gb(row + o.y), gb(row + o.z), gb(row + o.w));
#endif
}

// The quad of A for 4 rows of C and k .. k+3: column i holds A[row i, k .. k+3].
// Without TRANS_A `at` holds the 4 rows' starts plus k; with it `at.x` is the start of stored row k and `m` the
// 4 row indices (offsets along the stored rows).
fn quadA(at: vec4<u32>, m: vec4<u32>) -> mat4x4<f32> {
#if TRANS_A
  let r0 = ra4(at.x, m);
  let r1 = ra4(at.x + p.lda, m);
  let r2 = ra4(at.x + 2u * p.lda, m);
  let r3 = ra4(at.x + 3u * p.lda, m);
  return transpose(mat4x4<f32>(r0, r1, r2, r3));
#else
  return mat4x4<f32>(va(at.x), va(at.y), va(at.z), va(at.w));
#endif
}

// The quad of B for k .. k+3 and 4 columns of C: column kk holds B[k + kk, those 4 columns].
// With TRANS_B `at` holds the 4 columns' stored rows' starts plus k; without it `at.x` is the start of stored
// row k and `n` the 4 column indices.
fn quadB(at: vec4<u32>, n: vec4<u32>) -> mat4x4<f32> {
#if TRANS_B
  return transpose(mat4x4<f32>(vb(at.x), vb(at.y), vb(at.z), vb(at.w)));
#else
  let r0 = rb4(at.x, n);
  let r1 = rb4(at.x + p.ldb, n);
  let r2 = rb4(at.x + 2u * p.ldb, n);
  let r3 = rb4(at.x + 3u * p.ldb, n);
  return mat4x4<f32>(r0, r1, r2, r3);
#endif
}

// Where quadB starts at k = 0 for the 4 columns n; stepB: how far it moves per step of 4.
fn startB(baseB: u32, n: vec4<u32>) -> vec4<u32> {
#if TRANS_B
  return baseB + n * p.ldb;
#else
  return vec4<u32>(baseB);
#endif
}

fn stepB() -> u32 {
#if TRANS_B
  return 4u;
#else
  return 4u * p.ldb;
#endif
}

// acc + qb · qa: column i of the result is row i of a 4x4 part of C, accumulated with explicit fma.
fn col(qb: mat4x4<f32>, v: vec4<f32>, acc: vec4<f32>) -> vec4<f32> {
  return fma(qb[3], vec4<f32>(v.w), fma(qb[2], vec4<f32>(v.z), fma(qb[1], vec4<f32>(v.y), fma(qb[0], vec4<f32>(v.x), acc))));
}

fn mad(acc: mat4x4<f32>, qb: mat4x4<f32>, qa: mat4x4<f32>) -> mat4x4<f32> {
  return mat4x4<f32>(col(qb, qa[0], acc[0]), col(qb, qa[1], acc[1]), col(qb, qa[2], acc[2]), col(qb, qa[3], acc[3]));
}

// The K tail's single steps: A[rows m, k] and B[k, columns n].
fn colA(base: u32, m: vec4<u32>, k: u32) -> vec4<f32> {
#if TRANS_A
  let row = base + k * p.lda;
  return vec4<f32>(ga(row + m.x), ga(row + m.y), ga(row + m.z), ga(row + m.w));
#else
  let at = base + m * p.lda + vec4<u32>(k);
  return vec4<f32>(ga(at.x), ga(at.y), ga(at.z), ga(at.w));
#endif
}

fn rowB(base: u32, n: vec4<u32>, k: u32) -> vec4<f32> {
#if TRANS_B
  let at = base + n * p.ldb + vec4<u32>(k);
  return vec4<f32>(gb(at.x), gb(at.y), gb(at.z), gb(at.w));
#else
  let row = base + k * p.ldb;
  return vec4<f32>(gb(row + n.x), gb(row + n.y), gb(row + n.z), gb(row + n.w));
#endif
}

// acc + the outer product: column i gets av[i] * bv.
fn outer(acc: mat4x4<f32>, av: vec4<f32>, bv: vec4<f32>) -> mat4x4<f32> {
  return acc + mat4x4<f32>(av.x * bv, av.y * bv, av.z * bv, av.w * bv);
}

// Row m of C, columns n0 .. n0+3 (those below N).
fn store(baseC: u32, m: u32, n0: u32, v: vec4<f32>) {
  if (m >= p.M || n0 >= p.N) { return; }
  var x = v * p.alpha;
#if BIAS
  x += vec4<f32>(bias[n0], bias[min(n0 + 1u, p.N - 1u)], bias[min(n0 + 2u, p.N - 1u)], bias[min(n0 + 3u, p.N - 1u)]);
#endif
  let at = baseC + m * p.ldc + n0;
  c[at] = x.x;
  if (n0 + 1u < p.N) { c[at + 1u] = x.y; }
  if (n0 + 2u < p.N) { c[at + 2u] = x.z; }
  if (n0 + 3u < p.N) { c[at + 3u] = x.w; }
}

fn store4(baseC: u32, m0: u32, n0: u32, acc: mat4x4<f32>) {
  store(baseC, m0, n0, acc[0]);
  store(baseC, m0 + 1u, n0, acc[1]);
  store(baseC, m0 + 2u, n0, acc[2]);
  store(baseC, m0 + 3u, n0, acc[3]);
}

// Indices i0 .. i0+3 clamped below n. Under VEC4 along that dimension (n % 4 == 0, i0 % 4 == 0) they stay
// consecutive, or all become n - 1.
fn idx4(i0: u32, n: u32) -> vec4<u32> {
  return min(vec4<u32>(i0, i0 + 1u, i0 + 2u, i0 + 3u), vec4<u32>(n - 1u));
}

#if SUBGROUP
// Lane i's quad q, in every lane of the subgroup (subgroupBroadcast takes a constant lane).
fn quad0(q: mat4x4<f32>) -> mat4x4<f32> {
  return mat4x4<f32>(subgroupBroadcast(q[0], 0u), subgroupBroadcast(q[1], 0u), subgroupBroadcast(q[2], 0u), subgroupBroadcast(q[3], 0u));
}
fn quad1(q: mat4x4<f32>) -> mat4x4<f32> {
  return mat4x4<f32>(subgroupBroadcast(q[0], 1u), subgroupBroadcast(q[1], 1u), subgroupBroadcast(q[2], 1u), subgroupBroadcast(q[3], 1u));
}
fn quad2(q: mat4x4<f32>) -> mat4x4<f32> {
  return mat4x4<f32>(subgroupBroadcast(q[0], 2u), subgroupBroadcast(q[1], 2u), subgroupBroadcast(q[2], 2u), subgroupBroadcast(q[3], 2u));
}
fn quad3(q: mat4x4<f32>) -> mat4x4<f32> {
  return mat4x4<f32>(subgroupBroadcast(q[0], 3u), subgroupBroadcast(q[1], 3u), subgroupBroadcast(q[2], 3u), subgroupBroadcast(q[3], 3u));
}
#endif

#if ROW
// A[m, k .. k+3] for the row's start `at` (plus k).
fn rowA(at: u32) -> vec4<f32> {
#if TRANS_A
  return vec4<f32>(ga(at), ga(at + p.lda), ga(at + 2u * p.lda), ga(at + 3u * p.lda));
#else
  return va(at);
#endif
}

@compute @workgroup_size(WG * WG)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_index) li: u32) {
  let m = wid.y;
  let n0 = (wid.x * WG * WG + li) * 8u;
  if (m >= p.M || n0 >= p.N) { return; }
  let base = batchBase(wid.z);
  let baseB = base.y;
  let n00 = idx4(n0, p.N);
  let n01 = idx4(n0 + 4u, p.N);
  var acc0 = vec4<f32>();
  var acc1 = vec4<f32>();
#if TRANS_A
  var atA = base.x + m;
  let stepA = 4u * p.lda;
#else
  var atA = base.x + m * p.lda;
  let stepA = 4u;
#endif
  var atB0 = startB(baseB, n00);
  var atB1 = startB(baseB, n01);
  let K4 = p.K & ~3u;
  for (var k = 0u; k < K4; k += 4u) {
    let av = rowA(atA);
    acc0 = col(quadB(atB0, n00), av, acc0);
    acc1 = col(quadB(atB1, n01), av, acc1);
    atA += stepA;
    atB0 += vec4<u32>(stepB());
    atB1 += vec4<u32>(stepB());
  }
  for (var k = K4; k < p.K; k++) {
    let av = colA(base.x, vec4<u32>(m), k).x;
    acc0 += av * rowB(baseB, n00, k);
    acc1 += av * rowB(baseB, n01, k);
  }
  store(base.z, m, n0, acc0);
  store(base.z, m, n0 + 4u, acc1);
}
#else
@compute @workgroup_size(WG * WG)
fn main(
  @builtin(workgroup_id) wid: vec3<u32>,
  @builtin(local_invocation_index) li: u32,
#if SUBGROUP
  @builtin(subgroup_invocation_id) lane: u32,
#endif
) {
  let m0 = (wid.y * WG + li / WG) * 16u;
  let n0 = (wid.x * WG + li % WG) * 16u;
#if SUBGROUP
  // Every lane of a subgroup takes part in the broadcasts: blocks past N compute on clamped indices and store nothing
  // (store() skips them). Blocks past M leave, a whole subgroup at once (its 4 lanes share m0): at M 16 that is 3 of
  // the workgroup's 4 rows of blocks, which would otherwise multiply clamped rows for nothing.
  if (m0 >= p.M) { return; }
#else
  if (m0 >= p.M || n0 >= p.N) { return; }
#endif
  let base = batchBase(wid.z);
  let baseA = base.x;
  let baseB = base.y;
  // The block's rows and columns, in four quads each.
  let mq0 = idx4(m0, p.M);
  let mq1 = idx4(m0 + 4u, p.M);
  let mq2 = idx4(m0 + 8u, p.M);
  let mq3 = idx4(m0 + 12u, p.M);
  let nq0 = idx4(n0, p.N);
  let nq1 = idx4(n0 + 4u, p.N);
  let nq2 = idx4(n0 + 8u, p.N);
  let nq3 = idx4(n0 + 12u, p.N);

  // accRC: rows 4R .. 4R+3 (columns of the matrix), columns 4C .. 4C+3 (components) of the block.
  var acc00 = mat4x4<f32>();
  var acc01 = mat4x4<f32>();
  var acc02 = mat4x4<f32>();
  var acc03 = mat4x4<f32>();
  var acc10 = mat4x4<f32>();
  var acc11 = mat4x4<f32>();
  var acc12 = mat4x4<f32>();
  var acc13 = mat4x4<f32>();
  var acc20 = mat4x4<f32>();
  var acc21 = mat4x4<f32>();
  var acc22 = mat4x4<f32>();
  var acc23 = mat4x4<f32>();
  var acc30 = mat4x4<f32>();
  var acc31 = mat4x4<f32>();
  var acc32 = mat4x4<f32>();
  var acc33 = mat4x4<f32>();

  // Where the quads start at k = 0 and how far they move per step of 4.
#if TRANS_A
  var atA0 = vec4<u32>(baseA);
  var atA1 = vec4<u32>(baseA);
  var atA2 = vec4<u32>(baseA);
  var atA3 = vec4<u32>(baseA);
  let stepA = 4u * p.lda;
#else
  var atA0 = baseA + mq0 * p.lda;
  var atA1 = baseA + mq1 * p.lda;
  var atA2 = baseA + mq2 * p.lda;
  var atA3 = baseA + mq3 * p.lda;
  let stepA = 4u;
#endif
  var atB0 = startB(baseB, nq0);
  var atB1 = startB(baseB, nq1);
  var atB2 = startB(baseB, nq2);
  var atB3 = startB(baseB, nq3);

  let K4 = p.K & ~3u;
  for (var k = 0u; k < K4; k += 4u) {
#if SUBGROUP
    // The subgroup's 4 lanes are 4 consecutive invocations of one row of blocks (WG is a multiple of 4): they share
    // the 16 rows of A. Lane i loads quad i and broadcasts it: a quarter of A's gathers.
    let own = quadA(select(select(atA0, atA1, lane == 1u), select(atA2, atA3, lane == 3u), lane >= 2u),
                    select(select(mq0, mq1, lane == 1u), select(mq2, mq3, lane == 3u), lane >= 2u));
    let qa0 = quad0(own);
    let qa1 = quad1(own);
    let qa2 = quad2(own);
    let qa3 = quad3(own);
#else
    let qa0 = quadA(atA0, mq0);
    let qa1 = quadA(atA1, mq1);
    let qa2 = quadA(atA2, mq2);
    let qa3 = quadA(atA3, mq3);
#endif
    let qb0 = quadB(atB0, nq0);
    let qb1 = quadB(atB1, nq1);
    let qb2 = quadB(atB2, nq2);
    let qb3 = quadB(atB3, nq3);
    acc00 = mad(acc00, qb0, qa0);
    acc01 = mad(acc01, qb1, qa0);
    acc02 = mad(acc02, qb2, qa0);
    acc03 = mad(acc03, qb3, qa0);
    acc10 = mad(acc10, qb0, qa1);
    acc11 = mad(acc11, qb1, qa1);
    acc12 = mad(acc12, qb2, qa1);
    acc13 = mad(acc13, qb3, qa1);
    acc20 = mad(acc20, qb0, qa2);
    acc21 = mad(acc21, qb1, qa2);
    acc22 = mad(acc22, qb2, qa2);
    acc23 = mad(acc23, qb3, qa2);
    acc30 = mad(acc30, qb0, qa3);
    acc31 = mad(acc31, qb1, qa3);
    acc32 = mad(acc32, qb2, qa3);
    acc33 = mad(acc33, qb3, qa3);
    atA0 += vec4<u32>(stepA);
    atA1 += vec4<u32>(stepA);
    atA2 += vec4<u32>(stepA);
    atA3 += vec4<u32>(stepA);
    atB0 += vec4<u32>(stepB());
    atB1 += vec4<u32>(stepB());
    atB2 += vec4<u32>(stepB());
    atB3 += vec4<u32>(stepB());
  }
  for (var k = K4; k < p.K; k++) {
    let av0 = colA(baseA, mq0, k);
    let av1 = colA(baseA, mq1, k);
    let av2 = colA(baseA, mq2, k);
    let av3 = colA(baseA, mq3, k);
    let bv0 = rowB(baseB, nq0, k);
    let bv1 = rowB(baseB, nq1, k);
    let bv2 = rowB(baseB, nq2, k);
    let bv3 = rowB(baseB, nq3, k);
    acc00 = outer(acc00, av0, bv0);
    acc01 = outer(acc01, av0, bv1);
    acc02 = outer(acc02, av0, bv2);
    acc03 = outer(acc03, av0, bv3);
    acc10 = outer(acc10, av1, bv0);
    acc11 = outer(acc11, av1, bv1);
    acc12 = outer(acc12, av1, bv2);
    acc13 = outer(acc13, av1, bv3);
    acc20 = outer(acc20, av2, bv0);
    acc21 = outer(acc21, av2, bv1);
    acc22 = outer(acc22, av2, bv2);
    acc23 = outer(acc23, av2, bv3);
    acc30 = outer(acc30, av3, bv0);
    acc31 = outer(acc31, av3, bv1);
    acc32 = outer(acc32, av3, bv2);
    acc33 = outer(acc33, av3, bv3);
  }

  let baseC = base.z;
  store4(baseC, m0, n0, acc00);
  store4(baseC, m0, n0 + 4u, acc01);
  store4(baseC, m0, n0 + 8u, acc02);
  store4(baseC, m0, n0 + 12u, acc03);
  store4(baseC, m0 + 4u, n0, acc10);
  store4(baseC, m0 + 4u, n0 + 4u, acc11);
  store4(baseC, m0 + 4u, n0 + 8u, acc12);
  store4(baseC, m0 + 4u, n0 + 12u, acc13);
  store4(baseC, m0 + 8u, n0, acc20);
  store4(baseC, m0 + 8u, n0 + 4u, acc21);
  store4(baseC, m0 + 8u, n0 + 8u, acc22);
  store4(baseC, m0 + 8u, n0 + 12u, acc23);
  store4(baseC, m0 + 12u, n0, acc30);
  store4(baseC, m0 + 12u, n0 + 4u, acc31);
  store4(baseC, m0 + 12u, n0 + 8u, acc32);
  store4(baseC, m0 + 12u, n0 + 12u, acc33);
}
#endif
