// matmul_naive.wgsl — the baseline the tiled matmul is benchmarked against: one thread per element of C,
// every operand read straight from global memory. matmul.wgsl's bindings and defines (minus VEC4), the dense part of
// its uniforms (descriptor MATMUL_NAIVE in src/kernels/matmul_naive.ts). Grid: (ceil(N / 16), ceil(M / 16), batch).

@compute @workgroup_size(16, 16, 1)
fn main(@builtin(global_invocation_id) gid: vec3<u32>) {
  let col = gid.x;
  let row = gid.y;
  if (row >= p.M || col >= p.N) { return; }
  let baseA = p.offA + gid.z * p.strideA + row * p.K;
  let baseB = p.offB + gid.z * p.strideB;
  var acc = 0.0;
  for (var k = 0u; k < p.K; k++) {
#if TRANS_B
    acc = fma(a[baseA + k], b[baseB + col * p.K + k], acc);
#else
    acc = fma(a[baseA + k], b[baseB + k * p.N + col], acc);
#endif
  }
#if BIAS
  acc += bias[col];
#endif
  c[p.offC + gid.z * p.strideC + row * p.N + col] = acc;
}
