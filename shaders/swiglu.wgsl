// swiglu.wgsl — the gated MLP product of Llama / Qwen2 (HF LlamaMLP: act_fn(gate_proj(x)) * up_proj(x), act_fn SiLU):
//
//   y = silu(gate) * up,  silu(g) = g / (1 + exp(-g))
//
// Bindings (group 0), declared from the descriptor in src/kernels/swiglu.ts:
//   0  gate  storage read        [n]
//   1  up    storage read        [n]
//   2  y     storage read_write  [n]   (neither gate nor up)
//   3  p     uniform             Params
//
// Overrides: WG. One element per thread (elementwise.wgsl).

override WG: u32 = 256;

#include elementwise

fn unit(i: u32) {
  let g = gate[i];
  y[i] = g / (1.0 + exp(-g)) * up[i];
}
