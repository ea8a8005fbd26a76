// matmul_batch.wgsl — where batch z's operands start, for matmul.wgsl and matmul_direct.wgsl (one contract: the
// descriptor MATMUL in src/kernels/matmul.ts).

// The first element of batch z of A, B and C: off + (z / inner) * stride + (z % inner) * innerStride, per operand.
fn batchBase(z: u32) -> vec3<u32> {
  let outer = z / p.inner;
  let inn = z - outer * p.inner;
  return vec3<u32>(p.offA, p.offB, p.offC) + outer * vec3<u32>(p.strideA, p.strideB, p.strideC) + inn * vec3<u32>(p.innerA, p.innerB, p.innerC);
}
