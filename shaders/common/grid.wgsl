// grid.wgsl — the linear index of a workgroup in a grid1d grid (src/kernels/dispatch.ts): counts past
// maxComputeWorkgroupsPerDimension spill over from x into y, so the index is wid.x + wid.y * nwg.x.

fn workgroupIndex(wid: vec3<u32>, nwg: vec3<u32>) -> u32 {
  return wid.x + wid.y * nwg.x;
}
