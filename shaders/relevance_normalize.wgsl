// relevance_normalize.wgsl — a row-normalised relevance matrix applied to a vector, from the unnormalised product and
// the row sums (the cross-attention rule's R̄ = Ŝ + I of Chefer et al. 2021, Ŝ = R − I with rows scaled to sum 1,
// rows summing to 0 left 0; model/relevance.ts normalized):
//   out[t] = (U ? u[t] : 0) + (s[t] != 0 ? q[t] / s[t] : 0)
// where q = (R − I)·u and s = (R − I)·1 (R̄·u), or q = z and s = (R − I)·1 with no u (z·D⁻¹, the first factor of z·R̄).
//
// Bindings (group 0), declared from the descriptor in src/kernels/relevance_normalize.ts:
//   0  q    storage read        [n]
//   1  s    storage read        [n] row sums of R − I
//   2  u    storage read        [n] (only with U)
//   3  out  storage rw          [n]
//   4  p    uniform             Params
// Defines: U. Overrides: WG. Grid: grid1d(ceil(n / WG)), one invocation per element.

override WG: u32 = 64;

#include elementwise

fn unit(i: u32) {
  let sum = s[i];
  var v = select(0.0, q[i] / sum, sum != 0.0);
#if U
  v += u[i];
#endif
  out[i] = v;
}
