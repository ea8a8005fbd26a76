// softmax_backward.wgsl — the gradient through y = softmax(x) over the last dim of row-major [rows, n]:
//
//   dx[r, i] = p[r, i] * (dp[r, i] - sum_j p[r, j] * dp[r, j]),   p = y = softmax(x), dp = dL/dy.
//
// Bindings (group 0):
//   0  p   storage read   P  [rows, n]   (the forward's probabilities)
//   1  dp  storage read   dP [rows, n]   (the gradient of the probabilities)
//   2  dx  storage rw     dX [rows, n]   (must not alias P or dP)
//   3  u   uniform        Params
//
// Entries with p = 0 (masked or blocked keys) get dx = 0 exactly; a row of all zeros (a fully
// blocked query) gives a zero row, never NaN, as long as dP is finite.
//
// Overrides: WG (threads per workgroup, a power of two). One workgroup per row; each thread walks
// the row in strides of WG, so n may be any size. Grid: grid1d(rows), row = wid.x + wid.y * nwg.x.

struct Params {
  rows: u32, n: u32,
}

override WG: u32 = 64;

@group(0) @binding(0) var<storage, read> p: array<f32>;
@group(0) @binding(1) var<storage, read> dp: array<f32>;
@group(0) @binding(2) var<storage, read_write> dx: array<f32>;
@group(0) @binding(3) var<uniform> u: Params;

var<workgroup> red: array<f32, WG>;

// Tree reduction over the workgroup; every thread gets the result. Called in uniform control flow.
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
  if (row >= u.rows) { return; }
  let t = lid.x;
  let base = row * u.n;

  var s = 0.0;
  for (var i = t; i < u.n; i += WG) { s = fma(p[base + i], dp[base + i], s); }
  s = reduceSum(t, s);

  for (var i = t; i < u.n; i += WG) {
    let pi = p[base + i];
    dx[base + i] = pi * (dp[base + i] - s);
  }
}
