// matmul_b.wgsl — the B operand of matmul.wgsl and matmul_direct.wgsl (a Linear's weight), stored as f32 or, under
// HALF, as 16-bit floats packed two to a word (half.wgsl, whose TH is the binding's unit; BF16 picks the format).
// Indices are in elements either way, so offsets, strides and row lengths may be odd: a pair may straddle two rows.

#include half

// Element i of B.
fn gb(i: u32) -> f32 {
#if HALF
#if VEC4
  let w = b[i / 4u];
  return halfAt(select(w.x, w.y, (i & 2u) != 0u), i);
#else
  return halfAt(b[i / 2u], i);
#endif
#else
#if VEC4
  return b[i / 4u][i % 4u];
#else
  return b[i];
#endif
#endif
}

// Four consecutive elements of B from flat index i (i % 4 == 0 under VEC4).
fn vb(i: u32) -> vec4<f32> {
#if VEC4
#if HALF
  return halves4(b[i / 4u]);
#else
  return b[i / 4u];
#endif
#else
  return vec4<f32>(gb(i), gb(i + 1u), gb(i + 2u), gb(i + 3u));
#endif
}
