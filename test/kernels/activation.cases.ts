import { activation, type ActivationKind, activationRef, erf64, erfF32, geluRef } from '../../src/kernels/activation.ts';
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
  ...relu.map(([name, o], i) => actCase('relu', name, o, 500 + i)),
  ...gelu.map(([name, o], i) => actCase('gelu', name, o, 600 + i)),
];
