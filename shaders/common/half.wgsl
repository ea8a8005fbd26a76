// half.wgsl — 16-bit float storage (src/tensor.ts DType f16 / bf16): two elements to a u32 word, element 2i in the
// low half and 2i + 1 in the high half (a safetensors file's little-endian bytes, uploaded as they are). Widened to
// f32 here; the kernels compute in f32, so no shader-f16 is needed. Defines: HALF (the includer's weight array is
// packed), BF16 (the halves are bfloat16, the top half of an f32: a 16-bit shift; else IEEE binary16,
// unpack2x16float), and units.wgsl's VEC4.

#include units

// TH: the unit of the includer's weight array: T when not HALF; packed, one word (2 elements, indexed by element) or
// under VEC4 two words (4 elements, one T).
#if HALF
#if VEC4
alias TH = vec2<u32>;
#else
alias TH = u32;
#endif
#else
alias TH = T;
#endif

// Both elements of a word, in order.
fn halves(w: u32) -> vec2<f32> {
#if BF16
  return bitcast<vec2<f32>>(vec2<u32>(w << 16u, w & 0xffff0000u));
#else
  return unpack2x16float(w);
#endif
}

// Element i of a packed array, given its word w (word i / 2).
fn halfAt(w: u32, i: u32) -> f32 {
  let v = halves(w);
  return select(v.x, v.y, (i & 1u) == 1u);
}

// Four elements 4j .. 4j+3 from their two words.
fn halves4(w: vec2<u32>) -> vec4<f32> {
  return vec4<f32>(halves(w.x), halves(w.y));
}
