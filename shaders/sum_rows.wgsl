// sum_rows.wgsl — y[c] = sum over rows of x[r, c]: the column sums of a row-major [rows, n] f32 matrix
// (a Linear's bias gradient, db = sum_rows dY). Deterministic: a fixed summation order, no atomics.
//
// Bindings (group 0), declared from the descriptor in src/kernels/sum_rows.ts:
//   0  x  storage read        X [rows, n]
//   1  y  storage read_write  Y [n]
//   2  p  uniform             Params   (n counted in units: elements, or vec4s under VEC4)
//
// Defines: VEC4 (n % 4 == 0: one vec4 of columns per thread). Overrides: UC (units per workgroup), RL (row lanes,
// a power of two), CH (rows per lane per chunk). Workgroup (UC, RL): thread (u, lane) sums rows lane, lane + RL, ...
// of its unit, CH rows at a time into a chunk partial that is then added to its total (blocked summation: chains
// of CH and rows / (RL * CH) terms, not one of rows / RL), and the RL lanes are added as a tree in workgroup memory.
// Grid: grid1d(ceil(units / UC)).

override UC: u32 = 16;
override RL: u32 = 16;
override CH: u32 = 64;

#include units

#include grid

var<workgroup> red: array<T, UC * RL>;

@compute @workgroup_size(UC, RL, 1)
fn main(
  @builtin(workgroup_id) wid: vec3<u32>,
  @builtin(num_workgroups) nwg: vec3<u32>,
  @builtin(local_invocation_id) lid: vec3<u32>,
) {
  let block = workgroupIndex(wid, nwg);
  // Uniform per workgroup: a surplus workgroup of the 2-D grid leaves before any barrier.
  if (block * UC >= p.n) {
    return;
  }
  let col = block * UC + lid.x;
  var total = T(0.0);
  if (col < p.n) {
    for (var r0 = 0u; r0 < p.rows; r0 += RL * CH) {
      let end = min(r0 + RL * CH, p.rows);
      var part = T(0.0);
      for (var r = r0 + lid.y; r < end; r += RL) {
        part += x[r * p.n + col];
      }
      total += part;
    }
  }

  let t = lid.y * UC + lid.x;
  red[t] = total;
  workgroupBarrier();
  for (var s = RL / 2u; s > 0u; s >>= 1u) {
    if (lid.y < s) {
      red[t] += red[t + s * UC];
    }
    workgroupBarrier();
  }
  if (lid.y == 0u && col < p.n) {
    y[col] = red[lid.x];
  }
}
