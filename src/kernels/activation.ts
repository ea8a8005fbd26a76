import type { GpuContext } from '../gpu/context.ts';
import source from '../../shaders/activation.wgsl?raw';
import { type Dispatch, grid1d } from './dispatch.ts';
import { dispatchKernel, kernel, type KernelDesc, renamed } from './kernel.ts';

export const ACTIVATION = kernel({
  name: 'activation',
  source,
  bindings: {
    x: 'read T if !INPLACE',
    y: 'write T inplace INPLACE',
    bias: 'read T if BIAS',
    p: 'uniform',
    dy: 'read T if BACKWARD',
  },
  uniforms: { n: 'u32', C: 'u32' },
  defines: ['GELU', 'GELU_TANH', 'INPLACE', 'BIAS', 'VEC4', 'BACKWARD'],
});

/** The gradient entry point: dx is bound (and named in the shader) where the forward has y. */
export const ACTIVATION_BACKWARD = renamed(ACTIVATION, { x: 'x', y: 'dx', bias: 'bias', p: 'p', dy: 'dy' });

/** ReLU, GELU with the exact erf (PyTorch's default approximate='none'), or GELU's tanh form (GPT-2's gelu_new). */
export type ActivationKind = 'relu' | 'gelu' | 'gelu_tanh';

const KINDS: readonly ActivationKind[] = ['relu', 'gelu', 'gelu_tanh'];

function checkKind(label: string, kind: ActivationKind): { GELU: boolean; GELU_TANH: boolean } {
  if (!KINDS.includes(kind)) throw new Error(`${label}: unknown activation '${String(kind)}'`);
  return { GELU: kind === 'gelu', GELU_TANH: kind === 'gelu_tanh' };
}

/** Elementwise over [rows, C]: n = rows * C elements; C matters only for the bias broadcast. */
export interface ActivationShape {
  n: number;
  /** Row length (the bias length); defaults to n. */
  C?: number;
}

/**
 * y = act(x + bias), bias [C] broadcast over rows. Without `x` the kernel works in place on `y`
 * (WebGPU cannot bind one buffer as both read-only and writable storage, so in place is its own variant).
 */
export interface ActivationBuffers {
  x?: GPUBufferBinding;
  y: GPUBufferBinding;
  bias?: GPUBufferBinding;
}

const WG = 256;

export async function activation(
  ctx: GpuContext,
  kind: ActivationKind,
  bufs: ActivationBuffers,
  shape: ActivationShape,
  label: string = kind,
): Promise<Dispatch> {
  const n = shape.n;
  const C = shape.C ?? n;
  const which = checkKind(label, kind);
  if (!Number.isInteger(n) || n < 1) throw new Error(`${label}: n = ${n} is not a positive integer`);
  if (!Number.isInteger(C) || C < 1 || n % C !== 0) throw new Error(`${label}: C = ${C} must be a positive integer dividing n = ${n}`);
  if (bufs.x && bufs.x.buffer === bufs.y.buffer) throw new Error(`${label}: x and y are the same buffer; omit x to work in place`);
  return dispatchElementwise(ctx, ACTIVATION, label, which, bufs, { x: n, y: n, bias: C }, n, C, n % 4 === 0 && (!bufs.bias || C % 4 === 0));
}

/**
 * dx = dy · f'(x) elementwise over n (relu: 1 where x > 0 else 0, PyTorch's convention at 0 is 0; gelu
 * exact-erf: Φ(x) + x·φ(x)). x is the activation's INPUT (pre-activation). dx must be a buffer of its own
 * (it may not be x or dy: WebGPU forbids one buffer being read-only and writable storage in one dispatch).
 */
export async function activationBackward(
  ctx: GpuContext,
  kind: ActivationKind,
  bufs: { x: GPUBufferBinding; dy: GPUBufferBinding; dx: GPUBufferBinding },
  n: number,
  label = `${kind} backward`,
): Promise<Dispatch> {
  const which = checkKind(label, kind);
  if (!Number.isInteger(n) || n < 1 || n >= 2 ** 32) throw new Error(`${label}: n = ${n} is not a positive 32-bit integer`);
  return dispatchElementwise(ctx, ACTIVATION_BACKWARD, label, which, bufs, { x: n, dy: n, dx: n }, n, n, n % 4 === 0);
}

/** One dispatch of either entry point: one unit (an element, or a vec4) per thread, n and C counted in units. */
function dispatchElementwise<B extends string>(
  ctx: GpuContext,
  desc: KernelDesc<B, 'n' | 'C', string>,
  label: string,
  which: Record<string, boolean>,
  bufs: Partial<Record<B, GPUBufferBinding>>,
  need: Partial<Record<B, number>>,
  n: number,
  C: number,
  vec4: boolean,
): Promise<Dispatch> {
  const unit = vec4 ? 4 : 1;
  return dispatchKernel(ctx, desc, label, {
    bufs,
    need,
    params: { n: n / unit, C: C / unit },
    defines: { ...which, VEC4: vec4 },
    constants: { WG },
    workgroups: grid1d(ctx, Math.ceil(n / unit / WG)),
  });
}

/**
 * erf in f64, to ~1e-16: for |x| < 3 the everywhere-positive series
 * erf(x) = 2/sqrt(pi) exp(-x^2) sum_n 2^n x^(2n+1) / (1 * 3 * ... * (2n+1)) (no cancellation);
 * beyond, 1 - erfc(x) with erfc's continued fraction
 * erfc(x) = exp(-x^2)/sqrt(pi) * 1/(x + (1/2)/(x + 1/(x + (3/2)/(x + ...)))), evaluated bottom-up.
 */
export function erf64(x: number): number {
  if (Number.isNaN(x)) return NaN;
  const t = Math.abs(x);
  let r: number;
  if (t < 3) {
    let term = t;
    let sum = t;
    for (let n = 1; term > 1e-17 * sum; n++) {
      term *= (2 * t * t) / (2 * n + 1);
      sum += term;
    }
    r = (2 / Math.sqrt(Math.PI)) * Math.exp(-t * t) * sum;
  } else if (t < 30) {
    let f = t;
    for (let k = 80; k >= 1; k--) f = t + k / 2 / f;
    r = 1 - Math.exp(-t * t) / Math.sqrt(Math.PI) / f;
  } else {
    r = 1;
  }
  return x < 0 ? -r : r;
}

const f = Math.fround;
/** f32 fused multiply-add: the product of two f32 is exact in f64, so only the sum rounds (twice, harmlessly). */
const fma32 = (a: number, b: number, c: number) => f(a * b + c);

/**
 * The shader's erf, operation by operation in f32 (exp correctly rounded here, a few ulp on a GPU):
 * what the WGSL computes, so its accuracy can be checked on the CPU over millions of points.
 */
export function erfF32(x: number): number {
  const v = f(x);
  const t = Math.abs(v);
  const a = fma32(horner32(ERF_P, f(v * v)), v, v);
  if (t < 1) return a;
  const u = Math.min(t, 4);
  const b = f(1 - f(Math.exp(fma32(-u, u, horner32(ERF_Q, u)))));
  return v >= 0 ? b : -b;
}

/** The shader's erf coefficients, highest power first: |v| < 1 (in v^2) and |v| >= 1 (in t). */
const ERF_P = [7.6470715e-5, -0.0007942343, 0.005179748, -0.02684859, 0.112834305, -0.37612605, 0.12837915];
const ERF_Q = [-2.1686756e-5, 0.0004413352, -0.004204556, 0.025208239, -0.10841855, 0.36678007, -1.1295784, 0.00018803675];

/** Horner's rule with f32 fmas, as the shader evaluates its polynomials. */
const horner32 = (cs: readonly number[], x: number) => cs.slice(1).reduce((acc, c) => fma32(acc, x, f(c)), f(cs[0]));

export function reluRef(v: number): number {
  return v < 0 ? 0 : v;
}

/** Exact GELU in f64: 0.5 v (1 + erf(v / sqrt 2)). */
export function geluRef(v: number): number {
  return 0.5 * v * (1 + erf64(v / Math.SQRT2));
}

const SQRT_2_OVER_PI = Math.sqrt(2 / Math.PI);

/** GELU's tanh form in f64: 0.5 v (1 + tanh(sqrt(2/pi) (v + 0.044715 v^3))) (HF's NewGELUActivation). */
export function geluTanhRef(v: number): number {
  return 0.5 * v * (1 + Math.tanh(SQRT_2_OVER_PI * (v + 0.044715 * v ** 3)));
}

/** d/dv of the tanh form in f64. */
export function geluTanhGradRef(v: number): number {
  const t = Math.tanh(SQRT_2_OVER_PI * (v + 0.044715 * v ** 3));
  return 0.5 * (1 + t) + 0.5 * v * (1 - t * t) * SQRT_2_OVER_PI * (1 + 3 * 0.044715 * v * v);
}

const REFS: Record<ActivationKind, [(v: number) => number, (v: number) => number]> = {
  relu: [reluRef, reluGradRef],
  gelu: [geluRef, geluGradRef],
  gelu_tanh: [geluTanhRef, geluTanhGradRef],
};

/**
 * CPU reference: act(x + bias[i % C]) with the biased input rounded to f32 (PyTorch materialises the
 * Linear output before the activation), the activation in f64, the result rounded to f32.
 */
export function activationRef(kind: ActivationKind, x: Float32Array, bias?: Float32Array): Float32Array {
  const fn = REFS[kind][0];
  const C = bias?.length ?? 1;
  return x.map((v, i) => fn(bias ? Math.fround(v + bias[i % C]) : v));
}

/** d/dv of the exact GELU in f64: Φ(v) + v·φ(v). */
export function geluGradRef(v: number): number {
  return 0.5 * (1 + erf64(v / Math.SQRT2)) + (v * Math.exp(-0.5 * v * v)) / Math.sqrt(2 * Math.PI);
}

/** d/dv of ReLU: 1 where v > 0, else 0 (PyTorch's choice at 0; NaN gets 0). */
export function reluGradRef(v: number): number {
  return v > 0 ? 1 : 0;
}

/** CPU reference: dx = dy · f'(x) with the slope in f64, the product rounded to f32; a zero slope gives 0 for any dy. */
export function activationBackwardRef(kind: ActivationKind, x: Float32Array, dy: Float32Array): Float32Array {
  if (x.length !== dy.length) throw new Error(`activationBackwardRef: x has ${x.length} elements, dy ${dy.length}`);
  const fn = REFS[kind][1];
  return x.map((v, i) => {
    const slope = fn(v);
    return slope === 0 ? 0 : dy[i] * slope;
  });
}
