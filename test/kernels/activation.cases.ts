import {
  activation,
  activationBackward,
  activationBackwardRef,
  type ActivationKind,
  activationRef,
  erf64,
  erfF32,
  geluGradRef,
  geluRef,
  geluTanhGradRef,
  geluTanhRef,
} from '../../src/kernels/activation.ts';
import { type GpuCase, assertClose, rng, uniform, withScope } from '../harness.ts';

interface ActOptions {
  rows: number;
  C: number;
  bias?: boolean;
  inPlace?: boolean;
  lo?: number;
  hi?: number;
  /** Values appended at the start of x (special points). */
  special?: number[];
}

function actCase(kind: ActivationKind, name: string, o: ActOptions, seed: number): GpuCase {
  const label = `activation ${kind} ${name}`;
  return {
    name: label,
    run: (ctx) =>
      withScope(ctx, async (s) => {
        const n = o.rows * o.C;
        const rand = rng(seed);
        const x = uniform(rand, n, o.lo ?? -6, o.hi ?? 6);
        if (o.special) x.set(o.special.slice(0, n));
        const bias = o.bias ? uniform(rand, o.C) : undefined;
        const biasBuf = bias && s.upload(bias, 'bias');
        const xBuf = s.upload(x, 'x');
        const y = o.inPlace ? xBuf : s.empty(n, 'y');
        await s.run(await activation(ctx, kind, { x: o.inPlace ? undefined : xBuf, y, bias: biasBuf }, { n, C: o.C }, label));
        const want = activationRef(kind, x, bias);
        // ReLU is exact. GELU: 1e-6 absolute for inputs in [-6, 6] (measured: 4.8e-7, one ulp of the f32
        // output near 6); the special values reach 1e4, where only a relative bound makes sense.
        const tol = kind === 'relu' ? { atol: 0 } : { atol: 1e-6, rtol: o.special ? 1e-7 : 0 };
        assertClose(label, await s.read(y), want, { ...tol, shape: [o.rows, o.C] });
      }),
  };
}

const special = [0, -0, 1e-30, -1e-30, 1e-7, -1e-7, 0.5, -0.5, 1, -1, Math.SQRT2, -Math.SQRT2, 3, -3, 5.5, -5.5, 10, -10, 100, -100, 1e4, -1e4];

const relu: [string, ActOptions][] = [
  ['n=1', { rows: 1, C: 1 }],
  ['n=7', { rows: 1, C: 7 }],
  ['3x331', { rows: 3, C: 331 }],
  ['70001 elements', { rows: 1, C: 70001 }],
  ['vec4 in place + bias 300x68', { rows: 300, C: 68, bias: true, inPlace: true }],
  ['vec4 in place + bias 1100x64 (70400)', { rows: 1100, C: 64, bias: true, inPlace: true }],
];

const gelu: [string, ActOptions][] = [
  ['n=1', { rows: 1, C: 1 }],
  ['special values', { rows: 1, C: special.length, special }],
  ['n=13', { rows: 1, C: 13 }],
  ['5x257', { rows: 5, C: 257 }],
  ['70001 elements in [-6, 6]', { rows: 1, C: 70001 }],
  ['vec4 256 (one workgroup of vec4)', { rows: 1, C: 1024 }],
  ['vec4 66000 elements', { rows: 1, C: 66000 }],
  ['vec4 + bias 37x96', { rows: 37, C: 96, bias: true }],
  ['vec4 in place + bias 1200x60', { rows: 1200, C: 60, bias: true, inPlace: true }],
  ['scalar in place + bias, odd C 51x45', { rows: 51, C: 45, bias: true, inPlace: true }],
  ['vec4, bias of odd length falls back to scalar (4x17 + bias)', { rows: 4, C: 17, bias: true }],
];

interface BackOptions {
  n: number;
  lo?: number;
  hi?: number;
  special?: number[];
}

function actBackCase(kind: ActivationKind, name: string, o: BackOptions, seed: number): GpuCase {
  const label = `activation backward ${kind} ${name}`;
  return {
    name: label,
    run: (ctx) =>
      withScope(ctx, async (s) => {
        const rand = rng(seed);
        const x = uniform(rand, o.n, o.lo ?? -6, o.hi ?? 6);
        if (o.special) x.set(o.special.slice(0, o.n));
        const dy = uniform(rand, o.n, -2, 2);
        const bufs = { x: s.upload(x, 'x'), dy: s.upload(dy, 'dy'), dx: s.empty(o.n, 'dx') };
        await s.run(await activationBackward(ctx, kind, bufs, o.n, label));
        const got = await s.read(bufs.dx);
        const want = activationBackwardRef(kind, x, dy);
        // ReLU is exact. GELU: relative to |dy| (the slope is at most 1.13); measured at most 2.3e-7 · |dy| on
        // SwiftShader, the bound leaves room for a GPU's exp (WGSL allows 3 + 2|x| ulp).
        const tol = kind === 'relu' ? { atol: 0 } : { atol: 1e-30, rtol: 1e-6, scale: dy };
        assertClose(label, got, want, { ...tol, shape: [o.n] });
        if (kind === 'relu') {
          for (let i = 0; i < o.n; i++) {
            if (!(x[i] > 0) && !Object.is(got[i], 0) && !Object.is(got[i], -0)) throw new Error(`${label}: x[${i}] = ${x[i]} gave ${got[i]}, want 0`);
          }
        }
      }),
  };
}

const backSpecial = [0, -0, 1e-30, -1e-30, 1e-7, -1e-7, 0.5, -0.5, 1, -1, -0.7517916, 3, -3, 5.5, -5.5, 9, -9, 10, -10, 30, -30, 100, -100, 1e4, -1e4, 1e20, -1e20, 3e38, -3e38];

const reluBack: [string, BackOptions][] = [
  ['n=1', { n: 1 }],
  ['exactly 0, -0 and tiny values', { n: backSpecial.length, special: backSpecial }],
  // ±1.2e-38: the smallest normal f32s (WGSL may flush subnormals to 0, and SwiftShader does: 1e-38 > 0 is false there).
  ['vec4 with zeros, 4x331', { n: 1324, special: [0, -0, 0, 0, 1.2e-38, -1.2e-38, 0] }],
  ['70001 elements', { n: 70001 }],
];

const geluBack: [string, BackOptions][] = [
  ['n=1', { n: 1 }],
  ['special values up to |x| = 3e38', { n: backSpecial.length, special: backSpecial }],
  ['n=13', { n: 13 }],
  ['5x257 in [-6, 6]', { n: 1285 }],
  ['vec4 1024', { n: 1024 }],
  ['vec4 66000 in [-12, 12]', { n: 66000, lo: -12, hi: 12 }],
  ['70001 elements in [-6, 6]', { n: 70001 }],
];

function cpuCase(name: string, body: () => void): GpuCase {
  return { name, run: async () => body() };
}

export const cases: GpuCase[] = [
  cpuCase('activation erf64 matches known values', () => {
    // math.erf (CPython, libm) to 17 digits.
    const known: [number, number][] = [
      [0, 0],
      [1e-3, 0.0011283787909692365],
      [0.1, 0.1124629160182849],
      [0.5, 0.5204998778130465],
      [0.9, 0.7969082124228322],
      [1, 0.8427007929497149],
      [1.5, 0.9661051464753108],
      [2, 0.9953222650189527],
      [2.9, 0.9999589021219005],
      [3, 0.9999779095030014],
      [3.5, 0.9999992569016276],
      [5, 0.9999999999984626],
      [40, 1],
    ];
    const got = known.flatMap(([x]) => [erf64(x), erf64(-x)]);
    const want = known.flatMap(([, v]) => [v, -v]);
    assertClose('erf64', got, want, { atol: 1e-15 });
    // erfc through the continued fraction, relative: erfc(3) = 2.2090496998585438e-05, erfc(5) = 1.5374597944280351e-12.
    assertClose('erfc via erf64', [1 - erf64(3), 1 - erf64(5)], [2.2090496998585438e-5, 1.5374597944280351e-12], { rtol: 1e-4 });
  }),
  cpuCase('activation shader erf (f32 emulation) within 1e-7 of erf64 on [-6, 6]', () => {
    const n = 400001;
    const got = new Float64Array(n);
    const want = new Float64Array(n);
    for (let i = 0; i < n; i++) {
      const x = Math.fround(-6 + (12 * i) / (n - 1));
      got[i] = erfF32(x);
      want[i] = erf64(x);
    }
    assertClose('erfF32', got, want, { atol: 1e-7 });
  }),
  cpuCase('activation geluRef known values', () => {
    // torch.nn.functional.gelu in f64: gelu(1) = 0.8413447460685429, gelu(-1) = -0.15865525393145707.
    assertClose('geluRef', [geluRef(1), geluRef(-1), geluRef(0), geluRef(3)], [0.8413447460685429, -0.15865525393145707, 0, 2.99595030590511], {
      atol: 1e-15,
    });
  }),
  cpuCase('activation geluGradRef is the derivative of geluRef (central differences)', () => {
    // Σ gelu(x)·dy in f64: its change under x[i] ± h, over 2h, must be dy[i]·gelu'(x[i]).
    const rand = rng(650);
    const x = uniform(rand, 64, -6, 6);
    x.set([0, -0.7517916, 1, -1, 3, -3, 8, -8]);
    const dy = uniform(rand, 64, -2, 2);
    const loss = (v: ArrayLike<number>) => Array.from(v).reduce((acc, vi, i) => acc + geluRef(vi) * dy[i], 0);
    const grad = activationBackwardRef('gelu', x, dy);
    const fd: number[] = [];
    for (let i = 0; i < x.length; i++) {
      const h = 1e-4 * Math.max(1, Math.abs(x[i]));
      const plus = Float64Array.from(x);
      const minus = Float64Array.from(x);
      plus[i] += h;
      minus[i] -= h;
      fd.push((loss(plus) - loss(minus)) / (2 * h));
    }
    // Relative to |dy| (the slope is O(1), and crosses 0 near -0.75): central differences in f64 are good
    // to ~1e-8 here, far inside the 1e-3 a wrong formula would miss by.
    assertClose('gelu finite differences', fd, grad, { atol: 1e-12, rtol: 1e-6, scale: dy });
    // Φ(±1) ± φ(1) from math.erf and math.exp.
    assertClose('geluGradRef known values', [geluGradRef(0), geluGradRef(1), geluGradRef(-1)], [0.5, 1.0833154705876864, -0.0833154705876863], { atol: 1e-15 });
  }),
  cpuCase('activation relu backward reference: 0 at x = 0', () => {
    const got = activationBackwardRef('relu', Float32Array.from([-1, -0, 0, 1e-45, 2, NaN]), Float32Array.from([5, 5, 5, 5, 5, 5]));
    assertClose('relu backward ref', got, [0, 0, 0, 5, 5, 0], { atol: 0 });
  }),
  {
    name: 'activation backward rejects bad arguments',
    run: (ctx) =>
      withScope(ctx, async (s) => {
        const x = s.empty(8, 'x');
        const dy = s.empty(8, 'dy');
        const dx = s.empty(8, 'dx');
        const bad: [string, () => Promise<unknown>, RegExp][] = [
          ['n = 0', () => activationBackward(ctx, 'gelu', { x, dy, dx }, 0, 'gb'), /gb: n = 0/],
          ['n = 2.5', () => activationBackward(ctx, 'gelu', { x, dy, dx }, 2.5, 'gb'), /gb: n = 2.5/],
          ['short dy', () => activationBackward(ctx, 'relu', { x, dy, dx }, 9, 'rb'), /rb: buffer x holds 8 elements, the shape needs 9/],
          ['dx is dy', () => activationBackward(ctx, 'relu', { x, dy, dx: dy }, 8, 'rb'), /rb: buffer dx must not be the same GPUBuffer as dy/],
          ['unknown kind', () => activationBackward(ctx, 'tanh' as ActivationKind, { x, dy, dx }, 8, 'tb'), /tb: unknown activation 'tanh'/],
        ];
        for (const [what, f, re] of bad) {
          const err = await f().then(
            () => 'no error',
            (e: unknown) => String(e),
          );
          if (!re.test(err)) throw new Error(`activation backward ${what}: got '${err}', want ${re}`);
        }
      }),
  },
  ...reluBack.map(([name, o], i) => actBackCase('relu', name, o, 660 + i)),
  ...geluBack.map(([name, o], i) => actBackCase('gelu', name, o, 680 + i)),
  ...relu.map(([name, o], i) => actCase('relu', name, o, 500 + i)),
  ...gelu.map(([name, o], i) => actCase('gelu', name, o, 600 + i)),
  ...gelu.map(([name, o], i) => actCase('gelu_tanh', name, o, 740 + i)),
  ...geluBack.map(([name, o], i) => actBackCase('gelu_tanh', name, o, 760 + i)),
  cpuCase('activation geluTanhRef / geluTanhGradRef known values (torch gelu approximate=tanh, f64)', () => {
    assertClose('geluTanhRef', [geluTanhRef(1), geluTanhRef(-1), geluTanhRef(0), geluTanhRef(3)], [0.8411919906082768, -0.15880800939172324, 0, 2.996362607918227], { atol: 1e-15 });
    assertClose('geluTanhGradRef', [geluTanhGradRef(1), geluTanhGradRef(-1), geluTanhGradRef(0), geluTanhGradRef(3)], [1.0829640838457826, -0.08296408384578252, 0.5, 1.0115841666309695], { atol: 1e-14 });
  }),
];
