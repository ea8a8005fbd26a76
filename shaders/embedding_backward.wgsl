// embedding_backward.wgsl — the gradient of embedding.wgsl's table: dTable[v, :] = the sum of dy[i, :] over every
// i with ids[i] == v, 0 for rows no id hits. Deterministic: no atomics; every (v, column) is summed by one
// thread in increasing i.
//
// Bindings (group 0), declared from the descriptor in src/kernels/embedding_backward.ts:
//   0  ids     storage read        [n] u32
//   1  dy      storage read        dY [n, C]
//   2  dTable  storage read_write  [vocab, C]
//   3  p       uniform             Params   (C counted in units: elements, or vec4s under VEC4)
// Ids must be checked on the CPU (checkTokenIds); like the forward, the shader clamps an id >= vocab to vocab - 1,
// so the gradient goes where the forward's read came from.
//
// Defines: VEC4 (C % 4 == 0). Overrides: WG (threads per workgroup = units of columns per block), VB (vocabulary
// rows per block). A workgroup owns VB table rows x WG column units, their sums in workgroup memory (each thread
// only ever touches its own column's VB slots). It walks all ids in chunks of WG: the chunk's ids are staged in
// workgroup memory, then every thread scans them in order and, on an id of its block (the same branch for the whole
// workgroup), adds that token's dy unit to the slot. Ids are read ceil(vocab / VB) * ceil(C / WG) times in all,
// dy once per column block per matching token.
// Grid: grid1d(ceil(vocab / VB) * ceil(units / WG)); block b is column block b % colBlocks, row block b / colBlocks.

override WG: u32 = 64;
override VB: u32 = 8;

#include units

#include grid

// acc[r * WG + t]: row v0 + r of the block, column unit u0 + t.
var<workgroup> acc: array<T, VB * WG>;
// The current chunk's ids, clamped; past the end of ids an id that matches no block.
var<workgroup> chunk: array<u32, WG>;

const NO_ID: u32 = 0xffffffffu;

@compute @workgroup_size(WG)
fn main(
  @builtin(workgroup_id) wid: vec3<u32>,
  @builtin(num_workgroups) nwg: vec3<u32>,
  @builtin(local_invocation_index) t: u32,
) {
  let block = workgroupIndex(wid, nwg);
  let vBlock = block / p.colBlocks;
  let v0 = vBlock * VB;
  // Uniform per workgroup: a surplus workgroup of the 2-D grid leaves before any barrier.
  if (v0 >= p.vocab) {
    return;
  }
  let col = (block - vBlock * p.colBlocks) * WG + t;
  let inCol = col < p.C;
  for (var r = 0u; r < VB; r++) {
    acc[r * WG + t] = T(0.0);
  }

  for (var i0 = 0u; i0 < p.n; i0 += WG) {
    var id = NO_ID;
    if (i0 + t < p.n) {
      id = min(ids[i0 + t], p.vocab - 1u);
    }
    chunk[t] = id;
    workgroupBarrier();
    let m = min(WG, p.n - i0);
    for (var j = 0u; j < m; j++) {
      // Ids below v0 wrap around to huge values, so one comparison tests both ends of the block.
      let r = chunk[j] - v0;
      if (r < VB && inCol) {
        acc[r * WG + t] += dy[(i0 + j) * p.C + col];
      }
    }
    // The next chunk overwrites the staged ids.
    workgroupBarrier();
  }

  if (inCol) {
    let rows = min(VB, p.vocab - v0);
    for (var r = 0u; r < rows; r++) {
      dTable[(v0 + r) * p.C + col] = acc[r * WG + t];
    }
  }
}
