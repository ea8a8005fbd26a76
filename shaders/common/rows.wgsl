// rows.wgsl — the entry point of a kernel with one workgroup of WG threads per row: main calls row(r, t) for every
// row r < p.rows, t the thread's index in the workgroup, over grid1d(rows) workgroups.
// The includer declares `override WG`, a uniform `p` with a field rows and `fn row(r: u32, t: u32)`.
#include grid

@compute @workgroup_size(WG)
fn main(
  @builtin(workgroup_id) wid: vec3<u32>,
  @builtin(num_workgroups) nwg: vec3<u32>,
  @builtin(local_invocation_index) t: u32,
) {
  let r = workgroupIndex(wid, nwg);
  // Uniform across the workgroup, so the row's barriers stay in uniform control flow.
  if (r < p.rows) {
    row(r, t);
  }
}
