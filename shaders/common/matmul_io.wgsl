// matmul_io.wgsl — the contract matmul.wgsl and matmul_direct.wgsl share (descriptor MATMUL in src/kernels/matmul.ts):
// their bindings, and where batch z's operands start.

#if VEC4
@group(0) @binding(0) var<storage, read> a: array<vec4<f32>>;
@group(0) @binding(1) var<storage, read> b: array<vec4<f32>>;
#else
@group(0) @binding(0) var<storage, read> a: array<f32>;
@group(0) @binding(1) var<storage, read> b: array<f32>;
#endif
@group(0) @binding(2) var<storage, read_write> c: array<f32>;
#if BIAS
@group(0) @binding(3) var<storage, read> bias: array<f32>;
#endif
@group(0) @binding(4) var<uniform> p: Params;

// The first element of batch z of A, B and C: off + (z / inner) * stride + (z % inner) * innerStride, per operand.
fn batchBase(z: u32) -> vec3<u32> {
  let outer = z / p.inner;
  let inn = z - outer * p.inner;
  return vec3<u32>(p.offA, p.offB, p.offC) + outer * vec3<u32>(p.strideA, p.strideB, p.strideC) + inn * vec3<u32>(p.innerA, p.innerB, p.innerC);
}
