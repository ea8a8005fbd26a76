// scale_heads.wgsl — multiplies each head's slice of the merged attention output by a factor, in place:
// x[row, h*D + d] *= scale[h]. Zero ablates a head (before out_proj, as zeroing its output in PyTorch).
//
// Bindings (group 0):
//   0  x      storage rw     [rows, H*D]
//   1  scale  storage read   [H]
//   2  p      uniform        Params
// Overrides: WG. Grid: grid1d over rows*H*D elements (id = wid.x + wid.y * nwg.x).

struct Params { total: u32, D: u32, H: u32, _pad: u32 }

override WG: u32 = 256;

@group(0) @binding(0) var<storage, read_write> x: array<f32>;
@group(0) @binding(1) var<storage, read> scale: array<f32>;
@group(0) @binding(2) var<uniform> p: Params;

@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
  let i = (wid.x + wid.y * nwg.x) * WG + lid;
  if (i >= p.total) { return; }
  x[i] = x[i] * scale[(i / p.D) % p.H];
}
