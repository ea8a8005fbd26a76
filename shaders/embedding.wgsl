// embedding.wgsl — out[i, :] = table[ids[i], :]: nn.Embedding, a plain row copy of a table by u32 ids. The
// tutorials' `* sqrt(d_model)` is outside nn.Embedding, so it is applied by the positions step (posenc.wgsl), and
// a hook on the embedding module sees the rows as stored.
//
// Bindings (group 0), declared from the descriptor in src/kernels/embedding.ts:
//   0  ids    storage read        [n] u32
//   1  table  storage read        [vocab, C] f32, or under HALF 16-bit floats packed in pairs (half.wgsl; BF16: bfloat16),
//                                 flat: a pair may straddle two rows of an odd C; widened exactly to f32
//   2  out    storage read_write  [n, C]
//   3  p      uniform             Params   (n = tokens * C and C counted in units: elements, or vec4s under VEC4)
// Ids must be checked on the CPU before upload (checkTokenIds); an id >= vocab that slips through is
// clamped to vocab - 1 so the read stays in bounds (the row is then wrong, never out of the table).
//
// Defines: VEC4 (C % 4 == 0), HALF, BF16. Overrides: WG (threads per workgroup). One output unit per thread.
// Grid: grid1d(ceil(n * C / WG)).

override WG: u32 = 256;

#include half

#include elementwise

// Unit j of the table, as f32.
fn tableAt(j: u32) -> T {
#if HALF
#if VEC4
  return halves4(table[j]);
#else
  return halfAt(table[j / 2u], j);
#endif
#else
  return table[j];
#endif
}

fn unit(i: u32) {
  let row = i / p.C;
  let col = i - row * p.C;
  let id = min(ids[row], p.vocab - 1u);
  out[i] = tableAt(id * p.C + col);
}
