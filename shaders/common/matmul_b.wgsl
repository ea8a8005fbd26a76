// matmul_b.wgsl — the B operand of matmul.wgsl and matmul_direct.wgsl (a Linear's weight), stored as f32 or, under
// HALF_B, as 16-bit floats packed two to a word (half.wgsl; BF16 picks the format). TB is the binding's unit: f32 /
// vec4<f32> under VEC4, or u32 / vec2<u32> (4 elements) packed. Indices are in elements either way, so offsets, strides
// and row lengths may be odd: a pair may straddle two rows.

#include units
#include half

#if HALF_B
#if VEC4
alias TB = vec2<u32>;
#else
alias TB = u32;
#endif
#else
alias TB = T;
#endif

// Element i of B.
fn gb(i: u32) -> f32 {
#if HALF_B
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
#if HALF_B
  return halves4(b[i / 4u]);
#else
  return b[i / 4u];
#endif
#else
  return vec4<f32>(gb(i), gb(i + 1u), gb(i + 2u), gb(i + 3u));
#endif
}
