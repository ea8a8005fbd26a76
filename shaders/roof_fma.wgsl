// roof_fma.wgsl — the adapter's peak f32 multiply-add throughput (bench/roof.ts): registers only, no memory traffic in
// the loop. Each invocation runs 2 independent vec4 chains acc = fma(acc, m, c) (under MULADD acc * m + c), 32 steps
// of each per loop iteration, for p.iters iterations (2 * 4 * 2 * 32 = 512 flops an iteration), then writes the
// chains' sum. Why this shape (issue #18, measured on SwiftShader, docs/speed.md): SwiftShader runs 4 invocations per
// SSE register, a register per vec4 component, so 2 vec4 chains are 8 independent registers, enough to keep x86's
// adders busy without spilling, and a loop iteration costs several steps, so the body is long. The first form of this
// kernel (8 vec4 chains, one step each per iteration) measured 12 GFLOP/s on 2 cores where this one measures 62.
// Both forms of the multiply-add, because they differ by far on some adapters.
//
// Bindings (group 0), declared from the descriptor in src/kernels/roof_fma.ts:
//   0  out  storage read_write  [invocations]  the sum of the invocation's 8 accumulator lanes
//   1  p    uniform             Params  (n: invocations, iters, m, c)
// Defines: MULADD. Overrides: WG (threads per workgroup). Grid: grid1d(ceil(n / WG)).
// Chain j of invocation i starts at (i % 7) / 8 + j / 16 (lane l adds l / 64); the CPU reference repeats it.

override WG: u32 = 64;

#include elementwise

fn mac(a: vec4<f32>, m: vec4<f32>, c: vec4<f32>) -> vec4<f32> {
#if MULADD
  return a * m + c;
#else
  return fma(a, m, c);
#endif
}

fn unit(i: u32) {
  let s = f32(i % 7u) / 8.0;
  let lanes = vec4<f32>(0.0, 1.0, 2.0, 3.0) / 64.0;
  let m = vec4<f32>(p.m);
  let c = vec4<f32>(p.c);
  var a0 = vec4<f32>(s) + lanes;
  var a1 = a0 + 1.0 / 16.0;
  for (var k = 0u; k < p.iters; k++) {
    a0 = mac(a0, m, c); a1 = mac(a1, m, c);
    a0 = mac(a0, m, c); a1 = mac(a1, m, c);
    a0 = mac(a0, m, c); a1 = mac(a1, m, c);
    a0 = mac(a0, m, c); a1 = mac(a1, m, c);
    a0 = mac(a0, m, c); a1 = mac(a1, m, c);
    a0 = mac(a0, m, c); a1 = mac(a1, m, c);
    a0 = mac(a0, m, c); a1 = mac(a1, m, c);
    a0 = mac(a0, m, c); a1 = mac(a1, m, c);
    a0 = mac(a0, m, c); a1 = mac(a1, m, c);
    a0 = mac(a0, m, c); a1 = mac(a1, m, c);
    a0 = mac(a0, m, c); a1 = mac(a1, m, c);
    a0 = mac(a0, m, c); a1 = mac(a1, m, c);
    a0 = mac(a0, m, c); a1 = mac(a1, m, c);
    a0 = mac(a0, m, c); a1 = mac(a1, m, c);
    a0 = mac(a0, m, c); a1 = mac(a1, m, c);
    a0 = mac(a0, m, c); a1 = mac(a1, m, c);
    a0 = mac(a0, m, c); a1 = mac(a1, m, c);
    a0 = mac(a0, m, c); a1 = mac(a1, m, c);
    a0 = mac(a0, m, c); a1 = mac(a1, m, c);
    a0 = mac(a0, m, c); a1 = mac(a1, m, c);
    a0 = mac(a0, m, c); a1 = mac(a1, m, c);
    a0 = mac(a0, m, c); a1 = mac(a1, m, c);
    a0 = mac(a0, m, c); a1 = mac(a1, m, c);
    a0 = mac(a0, m, c); a1 = mac(a1, m, c);
    a0 = mac(a0, m, c); a1 = mac(a1, m, c);
    a0 = mac(a0, m, c); a1 = mac(a1, m, c);
    a0 = mac(a0, m, c); a1 = mac(a1, m, c);
    a0 = mac(a0, m, c); a1 = mac(a1, m, c);
    a0 = mac(a0, m, c); a1 = mac(a1, m, c);
    a0 = mac(a0, m, c); a1 = mac(a1, m, c);
    a0 = mac(a0, m, c); a1 = mac(a1, m, c);
    a0 = mac(a0, m, c); a1 = mac(a1, m, c);
  }
  out[i] = dot(a0 + a1, vec4<f32>(1.0));
}
