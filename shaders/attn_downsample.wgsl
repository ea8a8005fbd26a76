// attn_downsample.wgsl — attention maps [L, S] per head reduced to an N x N grid: the max and the mean of each block.
//
// Bindings (group 0), declared from the descriptor in src/kernels/attn_downsample.ts:
//   0  probs  storage read   [BH, L, S]: rows [l0, l0 + L) of each head's map of LT rows (all of it: l0 = 0, L = LT)
//   1  blockMax   storage rw  [BH, N, N]
//   2  blockMean  storage rw  [BH, N, N]
//   3  p      uniform        Params
// Overrides: WG. Grid: grid1d(ceil(n / WG)), one invocation per cell (n = BH*N*N).
// Cell (i, j) covers rows [r0, r1) and keys [c0, c1) with r0 = floor(i*LT/N), r1 = max(floor((i+1)*LT/N), r0 + 1)
// (keys alike with S): blocks partition the map when N <= LT; when N > LT a row serves several cells (nearest).
// The mean is the f32 sum in row-major order divided by the block's size (the CPU reference does the same).
// By chunks of rows (calls in order l0 = 0, L, 2L, ...): a cell sums the rows of its block inside the chunk onto what
// earlier chunks left (blockMean holds the running sum until the chunk with its last row divides it).

override WG: u32 = 64;

#include elementwise

// [from, to) of cell i of N over len (the host keeps N * len below 2^32).
fn edges(i: u32, N: u32, len: u32) -> vec2<u32> {
  let a = i * len / N;
  return vec2<u32>(a, max((i + 1u) * len / N, a + 1u));
}

fn unit(i: u32) {
  let j = i % p.N;
  let r = (i / p.N) % p.N;
  let bh = i / (p.N * p.N);
  let rows = edges(r, p.N, p.LT);
  let first = max(rows.x, p.l0);
  let last = min(rows.y, p.l0 + p.L);
  if (first >= last) { return; }
  let keys = edges(j, p.N, p.S);
  var m = 0.0;
  var sum = 0.0;
  if (rows.x < p.l0) {
    m = blockMax[i];
    sum = blockMean[i];
  }
  for (var l = first; l < last; l++) {
    let base = (bh * p.L + l - p.l0) * p.S;
    for (var s = keys.x; s < keys.y; s++) {
      let x = probs[base + s];
      m = max(m, x);
      sum += x;
    }
  }
  blockMax[i] = m;
  if (rows.y <= p.l0 + p.L) {
    blockMean[i] = sum / f32((rows.y - rows.x) * (keys.y - keys.x));
  } else {
    blockMean[i] = sum;
  }
}
