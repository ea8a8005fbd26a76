// activation.wgsl — y = act(x + bias[col]) elementwise over [rows, C], f32; act is ReLU, exact GELU
// (PyTorch's approximate='none': 0.5 * v * (1 + erf(v / sqrt(2)))) or tanh GELU (GPT-2's gelu_new, PyTorch's
// approximate='tanh': 0.5 * v * (1 + tanh(sqrt(2 / pi) * (v + 0.044715 v^3)))). The bias add makes it a Linear
// epilogue. With BACKWARD it is the gradient instead: y = dy * act'(x), x the activation's input (pre-activation);
// relu' = 1 where x > 0, else 0 (PyTorch's choice at 0), gelu' = Phi(x) + x * phi(x), the tanh form's
// 0.5 (1 + t) + 0.5 v (1 - t^2) sqrt(2 / pi) (1 + 3 * 0.044715 v^2).
//
// Bindings (group 0), declared from the descriptor in src/kernels/activation.ts:
//   0  x     storage read        X [rows, C]   (absent with INPLACE: y is read and overwritten)
//   1  y     storage read_write  Y [rows, C]   (dX with BACKWARD)
//   2  bias  storage read        [C]           (only with BIAS; broadcast over rows)
//   3  p     uniform             Params        (n and C counted in units: elements, or vec4s under VEC4)
//   4  dy    storage read        dY [rows, C]  (only with BACKWARD)
//
// Defines: GELU, GELU_TANH (neither: ReLU), INPLACE, BIAS, VEC4 (one vec4 per thread: n % 4 == 0, and C % 4 == 0 with a bias),
// BACKWARD (needs x: not with INPLACE or BIAS).
// Overrides: WG (threads per workgroup). One unit per thread. Grid: grid1d(ceil(units / WG)).

override WG: u32 = 256;

#include units

// erf in f32, max abs error 6.3e-8 (1.06 ulp) measured against a f64 erf on 3e6 points of [0, 6]
// (with a correctly rounded exp; the GPU's exp adds its own few ulp of 0.16 at most).
// Coefficients fitted for this file (weighted least squares, Lawson iterations, against mpmath):
//   |v| <  1:  erf(v) = v + v * P(v^2)            P degree 6, fit error 5.7e-10
//   |v| >= 1:  erf(v) = sign(v) (1 - exp(-t^2 + Q(t))),  t = min(|v|, 4), Q degree 7, fit error 2.1e-11
// erfc(4) = 1.5e-8 rounds 1 - erfc to 1 in f32, so clamping t at 4 is exact. Both branches are evaluated
// (select): no divergence, and the same code serves f32 and vec4.
fn erf(v: T) -> T {
  let t = abs(v);
  let s = v * v;
  var a = T(7.6470715e-05);
  a = fma(a, s, T(-0.0007942343));
  a = fma(a, s, T(0.005179748));
  a = fma(a, s, T(-0.02684859));
  a = fma(a, s, T(0.112834305));
  a = fma(a, s, T(-0.37612605));
  a = fma(a, s, T(0.12837915));
  a = fma(a, v, v);

  let u = min(t, T(4.0));
  var q = T(-2.1686756e-05);
  q = fma(q, u, T(0.0004413352));
  q = fma(q, u, T(-0.004204556));
  q = fma(q, u, T(0.025208239));
  q = fma(q, u, T(-0.10841855));
  q = fma(q, u, T(0.36678007));
  q = fma(q, u, T(-1.1295784));
  q = fma(q, u, T(0.00018803675));
  let b = 1.0 - exp(fma(-u, u, q));
  return select(a, select(-b, b, v >= T(0.0)), t >= T(1.0));
}

// The tanh form through sigmoids, 0.5 (1 + tanh(u)) = sigmoid(2u) and 1 - tanh(u)^2 = 4 sigmoid(2u) sigmoid(-2u),
// from e = exp(-2|u|) in (0, 1]: nothing overflows and nothing cancels where the slope is small (u << 0).
// Returns (sigmoid(2u), sigmoid(2u) sigmoid(-2u), e), u = sqrt(2 / pi) * (v + 0.044715 v^3).
struct TanhGelu {
  s: T,
  ss: T,
  e: T,
}

fn tanhGelu(v: T) -> TanhGelu {
  let u = 0.7978845608028654 * fma(0.044715 * v * v, v, v);
  let e = exp(-2.0 * abs(u));
  let d = 1.0 / (1.0 + e);
  return TanhGelu(select(e * d, d, u >= T(0.0)), e * d * d, e);
}

fn act(v: T) -> T {
#if GELU
  return 0.5 * v * (1.0 + erf(v * 0.70710678118654752));
#elif GELU_TANH
  return v * tanhGelu(v).s;
#else
  // NaN < 0 is false, so NaN passes through as in torch.relu.
  return select(v, T(0.0), v < T(0.0));
#endif
}

// g * act'(v). Selects, not products, so a zero slope gives exactly 0 whatever g is.
fn actGrad(v: T, g: T) -> T {
#if GELU
  // Phi(v) = (1 + erf(v / sqrt 2)) / 2, phi(v) = exp(-v^2 / 2) / sqrt(2 pi). For |v| past 1e19 v * v is inf,
  // exp gives 0 and the slope is Phi: 0 or 1, as it should be.
  let cdf = 0.5 * (1.0 + erf(v * 0.70710678118654752));
  let pdf = exp(-0.5 * v * v) * 0.39894228040143268;
  return g * fma(v, pdf, cdf);
#elif GELU_TANH
  // s + 2 v s(1 - s) u'(v); where e is 0 that term is 0, selected since v * v may be inf there (0 * inf is NaN).
  let t = tanhGelu(v);
  let tail = select(T(0.0), 2.0 * v * t.ss * 0.7978845608028654 * fma(0.134145 * v, v, T(1.0)), t.e > T(0.0));
  return g * (t.s + tail);
#else
  // NaN > 0 is false: a NaN input gets a zero gradient.
  return select(T(0.0), g, v > T(0.0));
#endif
}

#include elementwise

fn unit(i: u32) {
#if BACKWARD
  dx[i] = actGrad(x[i], dy[i]);
#else
#if INPLACE
  var v = y[i];
#else
  var v = x[i];
#endif
#if BIAS
  v += bias[i % p.C];
#endif
  y[i] = act(v);
#endif
}
