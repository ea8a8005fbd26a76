// roof_fma.wgsl — the adapter's peak f32 multiply-add throughput (bench/roof.ts): registers only, no memory traffic in
// the loop. Each invocation runs 8 independent vec4 chains acc = fma(acc, m, c) (under MULADD acc * m + c) for p.iters
// steps (8 * 4 * 2 flops a step), so neither a SIMD unit's latency nor a lane's dependence limits it, then writes the
// chains' sum. Both forms, because they differ by far on some adapters: SwiftShader's Subzero backend emits no FMA
// instruction and calls the C library's fmaf for each lane of fma(), while a * b + c is a vector multiply and add.
//
// Bindings (group 0), declared from the descriptor in src/kernels/roof_fma.ts:
//   0  out  storage read_write  [invocations]  the sum of the invocation's 32 accumulator lanes
//   1  p    uniform             Params  (n: invocations, iters, m, c)
// Defines: MULADD. Overrides: WG (threads per workgroup). Grid: grid1d(ceil(n / WG)).
// Chain j of invocation i starts at (i % 7) / 8 + j / 16 (lane l adds l / 64); the CPU reference repeats it.

override WG: u32 = 64;

#include elementwise

fn unit(i: u32) {
  let s = f32(i % 7u) / 8.0;
  let lanes = vec4<f32>(0.0, 1.0, 2.0, 3.0) / 64.0;
  let m = vec4<f32>(p.m);
  let c = vec4<f32>(p.c);
  var a0 = vec4<f32>(s) + lanes;
  var a1 = a0 + 1.0 / 16.0;
  var a2 = a0 + 2.0 / 16.0;
  var a3 = a0 + 3.0 / 16.0;
  var a4 = a0 + 4.0 / 16.0;
  var a5 = a0 + 5.0 / 16.0;
  var a6 = a0 + 6.0 / 16.0;
  var a7 = a0 + 7.0 / 16.0;
  for (var k = 0u; k < p.iters; k++) {
#if MULADD
    a0 = a0 * m + c;
    a1 = a1 * m + c;
    a2 = a2 * m + c;
    a3 = a3 * m + c;
    a4 = a4 * m + c;
    a5 = a5 * m + c;
    a6 = a6 * m + c;
    a7 = a7 * m + c;
#else
    a0 = fma(a0, m, c);
    a1 = fma(a1, m, c);
    a2 = fma(a2, m, c);
    a3 = fma(a3, m, c);
    a4 = fma(a4, m, c);
    a5 = fma(a5, m, c);
    a6 = fma(a6, m, c);
    a7 = fma(a7, m, c);
#endif
  }
  out[i] = dot((a0 + a1) + (a2 + a3) + ((a4 + a5) + (a6 + a7)), vec4<f32>(1.0));
}
