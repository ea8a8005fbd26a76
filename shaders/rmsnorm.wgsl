// rmsnorm.wgsl — Llama / Qwen2's RMSNorm over the last dim (HF LlamaRMSNorm, f32):
//
//   y = x * rsqrt(mean_C(x^2) + eps) * weight
//
// Bindings (group 0), declared from the descriptor in src/kernels/rmsnorm.ts:
//   0  x       storage read        X [rows, C]
//   1  y       storage read_write  Y [rows, C]   (not x)
//   2  weight  storage read        [C]
//   3  p       uniform             Params
//
// Overrides: WG (threads per row, a power of two). One workgroup per row (rows.wgsl); the threads stride the row by
// WG, and the sum of squares is a tree reduction (rms.wgsl).

override WG: u32 = 64;
alias Red = f32;

#include rms
#include rows

fn row(r: u32, t: u32) {
  let base = r * p.C;
  let rstd = rowRstd(base, t);
  for (var i = t; i < p.C; i += WG) {
    y[base + i] = weight[i] * (x[base + i] * rstd);
  }
}
