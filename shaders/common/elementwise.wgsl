// elementwise.wgsl — the entry point of a kernel with one unit of work (an element, a vec4, a row) per thread: main
// calls unit(i) for every i < p.n, WG threads per workgroup, grid1d(ceil(n / WG)) workgroups.
// The includer declares `override WG`, a uniform `p` with a field n and `fn unit(i: u32)` (no barriers in it).
#include grid

@compute @workgroup_size(WG)
fn main(
  @builtin(workgroup_id) wid: vec3<u32>,
  @builtin(num_workgroups) nwg: vec3<u32>,
  @builtin(local_invocation_index) lid: u32,
) {
  let i = workgroupIndex(wid, nwg) * WG + lid;
  if (i < p.n) {
    unit(i);
  }
}
