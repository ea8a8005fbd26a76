// roof_read.wgsl — the adapter's read bandwidth (bench/roof.ts): every invocation sums its share of a large buffer
// of vec4s and writes one f32, so the traffic is the buffer read once.
//
// Bindings (group 0), declared from the descriptor in src/kernels/roof_read.ts:
//   0  x    storage read        [n vec4]
//   1  out  storage read_write  [threads]  each invocation's sum of its vec4s' components
//   2  p    uniform             Params  (threads: invocations, n: vec4s)
// Defines: BLOCKED: invocation t reads the contiguous run [t * ceil(n / threads), ...) (a CPU core streams one range);
// else vec4 j goes to invocation j % threads (adjacent invocations read adjacent addresses, as a GPU coalesces).
// Overrides: WG. Grid: grid1d(ceil(threads / WG)).

override WG: u32 = 64;

alias V4 = vec4<f32>;

#include grid

@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
  let t = workgroupIndex(wid, nwg) * WG + lid;
  if (t >= p.threads) { return; }
  var acc = vec4<f32>(0.0);
#if BLOCKED
  let run = (p.n + p.threads - 1u) / p.threads;
  let end = min(p.n, (t + 1u) * run);
  for (var j = t * run; j < end; j++) {
    acc += x[j];
  }
#else
  for (var j = t; j < p.n; j += p.threads) {
    acc += x[j];
  }
#endif
  out[t] = (acc.x + acc.y) + (acc.z + acc.w);
}
