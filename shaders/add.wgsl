// add.wgsl — out = a + b elementwise (residual add), same shape, f32.
//
// Bindings (group 0):
//   0  a    storage read        A [n]   (read_write with INPLACE: a += b, no out binding)
//   1  b    storage read        B [n]
//   2  out  storage read_write  O [n]   (absent with INPLACE)
//   3  p    uniform             Params  (n counted in units: elements, or vec4s under VEC4)
// WebGPU cannot bind one buffer as read-only and writable storage in one dispatch, so out = a is the
// INPLACE variant rather than an aliased binding; b must differ from a and out.
//
// Defines: INPLACE, VEC4 (one vec4 per thread: n % 4 == 0). Overrides: WG (threads per workgroup).
// Grid: grid1d(ceil(units / WG)).

struct Params {
  n: u32,
}

override WG: u32 = 256;

#if VEC4
alias T = vec4<f32>;
#else
alias T = f32;
#endif

#if INPLACE
@group(0) @binding(0) var<storage, read_write> a: array<T>;
#else
@group(0) @binding(0) var<storage, read> a: array<T>;
@group(0) @binding(2) var<storage, read_write> out: array<T>;
#endif
@group(0) @binding(1) var<storage, read> b: array<T>;
@group(0) @binding(3) var<uniform> p: Params;

@compute @workgroup_size(WG)
fn main(
  @builtin(workgroup_id) wid: vec3<u32>,
  @builtin(num_workgroups) nwg: vec3<u32>,
  @builtin(local_invocation_index) lid: u32,
) {
  let i = (wid.x + wid.y * nwg.x) * WG + lid;
  if (i >= p.n) {
    return;
  }
#if INPLACE
  a[i] = a[i] + b[i];
#else
  out[i] = a[i] + b[i];
#endif
}
