// embedding.wgsl — out[i, :] = table[ids[i], :] * scale (nn.Embedding, times sqrt(d_model) in the
// PyTorch tutorials), f32 table, u32 ids.
//
// Bindings (group 0):
//   0  ids    storage read        [n] u32
//   1  table  storage read        [vocab, C]
//   2  out    storage read_write  [n, C]
//   3  p      uniform             Params   (C counted in units: elements, or vec4s under VEC4)
// Ids must be checked on the CPU before upload (checkTokenIds); an id >= vocab that slips through is
// clamped to vocab - 1 so the read stays in bounds (the row is then wrong, never out of the table).
//
// Defines: VEC4 (C % 4 == 0). Overrides: WG (threads per workgroup). One output unit per thread.
// Grid: grid1d(ceil(n * C / WG)).

struct Params {
  n: u32,
  C: u32,
  vocab: u32,
  scale: f32,
}

override WG: u32 = 256;

#if VEC4
alias T = vec4<f32>;
#else
alias T = f32;
#endif

@group(0) @binding(0) var<storage, read> ids: array<u32>;
@group(0) @binding(1) var<storage, read> table: array<T>;
@group(0) @binding(2) var<storage, read_write> out: array<T>;
@group(0) @binding(3) var<uniform> p: Params;

@compute @workgroup_size(WG)
fn main(
  @builtin(workgroup_id) wid: vec3<u32>,
  @builtin(num_workgroups) nwg: vec3<u32>,
  @builtin(local_invocation_index) lid: u32,
) {
  let i = (wid.x + wid.y * nwg.x) * WG + lid;
  if (i >= p.n * p.C) {
    return;
  }
  let row = i / p.C;
  let col = i - row * p.C;
  let id = min(ids[row], p.vocab - 1u);
  out[i] = table[id * p.C + col] * p.scale;
}
