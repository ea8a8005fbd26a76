// softmax.wgsl — y[r, :] = softmax(x[r, :]) over the last dim of a row-major [rows, n] f32 tensor.
//
// Bindings (group 0):
//   0  x  storage read   X [rows, n]   (element offset offX)
//   1  y  storage rw     Y [rows, n]   (element offset offY; must not overlap X)
//   2  p  uniform        Params
//
// Numerically stable: y = exp(x - max) / sum(exp(x - max)).
// A fully masked row (every entry -inf) gives all zeros, not NaN: this matches PyTorch >= 2.5's
// MultiheadAttention (PyTorch 1.13 gives NaN there). Entries of -inf elsewhere give exactly 0.
//
// Overrides: WG (threads per workgroup, a power of two). One workgroup per row; each thread walks
// the row in strides of WG, so n may be any size. Grid: grid1d(rows), row = wid.x + wid.y * nwg.x.

struct Params {
  rows: u32, n: u32, offX: u32, offY: u32,
}

override WG: u32 = 64;
// -FLT_MAX: the running max starts here (WGSL has no -inf literal), so a row of -inf keeps
// max = -FLT_MAX, every exp() is 0 and the sum is 0 — which selects the all-zero row.
const LOWEST: f32 = -0x1.fffffep+127f;

@group(0) @binding(0) var<storage, read> x: array<f32>;
@group(0) @binding(1) var<storage, read_write> y: array<f32>;
@group(0) @binding(2) var<uniform> p: Params;

var<workgroup> red: array<f32, WG>;

// Tree reduction over the workgroup; every thread gets the result. Called in uniform control flow.
fn reduceMax(t: u32, v: f32) -> f32 {
  red[t] = v;
  workgroupBarrier();
  for (var k = WG / 2u; k > 0u; k >>= 1u) {
    if (t < k) { red[t] = max(red[t], red[t + k]); }
    workgroupBarrier();
  }
  let r = red[0];
  workgroupBarrier();
  return r;
}

fn reduceSum(t: u32, v: f32) -> f32 {
  red[t] = v;
  workgroupBarrier();
  for (var k = WG / 2u; k > 0u; k >>= 1u) {
    if (t < k) { red[t] = red[t] + red[t + k]; }
    workgroupBarrier();
  }
  let r = red[0];
  workgroupBarrier();
  return r;
}

@compute @workgroup_size(WG, 1, 1)
fn main(
  @builtin(workgroup_id) wid: vec3<u32>,
  @builtin(num_workgroups) nwg: vec3<u32>,
  @builtin(local_invocation_id) lid: vec3<u32>,
) {
  let row = wid.x + wid.y * nwg.x;
  // Uniform across the workgroup, so returning keeps the barriers below in uniform control flow.
  if (row >= p.rows) { return; }
  let t = lid.x;
  let bx = p.offX + row * p.n;
  let by = p.offY + row * p.n;

  var m = LOWEST;
  for (var i = t; i < p.n; i += WG) { m = max(m, x[bx + i]); }
  m = reduceMax(t, m);

  // Each thread writes exp(x - max) to the elements it owns and later reads back only those.
  var s = 0.0;
  for (var i = t; i < p.n; i += WG) {
    let e = exp(x[bx + i] - m);
    y[by + i] = e;
    s += e;
  }
  s = reduceSum(t, s);

  for (var i = t; i < p.n; i += WG) {
    if (s > 0.0) { y[by + i] = y[by + i] / s; } else { y[by + i] = 0.0; }
  }
}
