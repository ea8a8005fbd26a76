// posenc.wgsl — out[b, l, :] = x[b, l, :] * scale + pe[l + posOffset, :]: the PyTorch tutorial's
// `embed(src) * sqrt(d_model)` followed by its sinusoidal positional encoding, added from a table pe [maxLen, C]
// built on the CPU in f64 (sinusoidalTable), like the tutorial's registered `pe` buffer (or a learned table). A
// table rather than sin/cos here: WGSL only promises sin/cos to 2^-11 absolute, and an f32 angle
// pos * 10000^(-2i/C) is already off by up to half an ulp of pos (3e-5 at pos 1000). Without PE the step only
// scales (a model with no positions but an embed_scale).
//
// Bindings (group 0), declared from the descriptor in src/kernels/posenc.ts:
//   0  x    storage read        X [B, L, C] (batch-first) or [L, B, C] (seq-first)   (absent with INPLACE)
//   1  pe   storage read        PE [maxLen, C]                                        (absent without PE)
//   2  out  storage read_write  Y, the shape of X (with INPLACE: X itself, updated in place)
//   3  p    uniform             Params   (C counted in units: elements, or vec4s under VEC4)
// The row r of the flattened [rows, C] has position (r / posDiv) % L + posOffset: posDiv is 1 batch-first,
// B seq-first.
//
// Rounding: PyTorch rounds x * scale to f32 before adding pe (two kernels). WGSL lets a backend compiler contract
// a * b + c into one FMA (rounded once) even through a `let`, which would put the result up to half an ulp of the
// product off PyTorch's. So the product's bits go through an XOR with p.zero, a uniform that is always 0: no
// compiler can see through a value it only learns at run time, so the product is materialised, rounded to f32,
// before the add (one integer op per unit; the kernel is bound by memory).
//
// Defines: INPLACE, PE, VEC4 (C % 4 == 0). Overrides: WG (threads per workgroup). One unit per thread.
// Grid: grid1d(ceil(rows * C / WG)).

override WG: u32 = 256;

#include units

#include elementwise

fn unit(i: u32) {
#if INPLACE
  let v = out[i];
#else
  let v = x[i];
#endif
#if PE
  // Rounded to f32 before the add, as PyTorch's separate multiply does (see the header on contraction).
  let scaled = bitcast<T>(bitcast<U>(v * p.scale) ^ U(p.zero));
  let row = i / p.C;
  let col = i - row * p.C;
  let pos = (row / p.posDiv) % p.L + p.posOffset;
  out[i] = scaled + pe[pos * p.C + col];
#else
  out[i] = v * p.scale;
#endif
}
