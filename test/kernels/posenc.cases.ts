import { posEnc, type PosEncShape, posEncRef, sinusoid, sinusoidalTable } from '../../src/kernels/posenc.ts';
import { type GpuCase, assertClose, rng, uniform, withScope } from '../harness.ts';

/** The spacing of f32 values just above |w| (the f32 ulp of the result). */
function ulp32(w: number): number {
  const f = new Float32Array([Math.abs(w)]);
  const a = f[0];
  new Uint32Array(f.buffer)[0] += 1;
  return f[0] - a;
}

interface PeSpec {
  shape: PosEncShape;
  /** Rows of the table (ignored without pe: 0 there shows it is not checked). */
  maxLen: number;
  inPlace: boolean;
  /** false: no table bound, the step only scales. Default true. */
  pe?: boolean;
}

function peCase(name: string, o: PeSpec, seed: number): GpuCase {
  const { shape, maxLen, inPlace } = o;
  const withPe = o.pe ?? true;
  const label = `posenc ${name}${inPlace ? ' in place' : ''}`;
  return {
    name: label,
    run: (ctx) =>
      withScope(ctx, async (s) => {
        const n = shape.B * shape.L * shape.C;
        const x = uniform(rng(seed), n);
        const xBuf = s.upload(x, 'x');
        const out = inPlace ? xBuf : s.empty(n, 'out');
        const pe = withPe ? s.upload(sinusoidalTable(maxLen, shape.C), 'pe') : undefined;
        await s.run(await posEnc(ctx, { x: inPlace ? undefined : xBuf, pe, out }, shape, maxLen, label));
        const dims = shape.batchFirst ? [shape.B, shape.L, shape.C] : [shape.L, shape.B, shape.C];
        const got = await s.read(out);
        const want = posEncRef(x, shape, withPe);
        if (!withPe) {
          // x * f32(scale), one correctly rounded f32 multiply: bit-exact.
          assertClose(label, got, want, { atol: 0, shape: dims });
          return;
        }
        // The reference rounds x * scale, adds sin/cos in f64 and rounds once; the GPU adds the f32 table (within
        // 2^-25 of sin/cos) and rounds the sum: at most 1 ulp of the result + 2^-25 apart (measured on SwiftShader:
        // up to 0.99 of that, max |diff| 1.2e-7 at scale 1 and 9.5e-7 at scale sqrt(128)). A fused product and add
        // would be up to 2.3 times that bound off, hence the shader's rounding barrier.
        assertClose(label, got, want, { atol: 2 ** -25, rtol: 1, scale: Array.from(want, ulp32), shape: dims });
        // And bit for bit what PyTorch's two f32 kernels give with the same f32 table: f32(f32(x * scale) + pe),
        // each operation correctly rounded (WGSL's f32 * and +). This is what fails if the product is not rounded.
        const table = sinusoidalTable(maxLen, shape.C);
        const scale = Math.fround(shape.scale ?? 1);
        const torch = new Float32Array(n);
        for (let r = 0; r < shape.B * shape.L; r++) {
          const pos = (shape.batchFirst ? r % shape.L : Math.floor(r / shape.B)) + (shape.posOffset ?? 0);
          for (let c = 0; c < shape.C; c++) torch[r * shape.C + c] = Math.fround(x[r * shape.C + c] * scale) + table[pos * shape.C + c];
        }
        assertClose(`${label} (f32 kernels)`, got, torch, { atol: 0, shape: dims });
      }),
  };
}

const specs: [string, PeSpec][] = [
  ['1x1x1', { shape: { B: 1, L: 1, C: 1, batchFirst: true }, maxLen: 1, inPlace: false }],
  ['batch-first 2x5x8', { shape: { B: 2, L: 5, C: 8, batchFirst: true }, maxLen: 16, inPlace: false }],
  ['seq-first 7x3x13 (odd C)', { shape: { B: 3, L: 7, C: 13, batchFirst: false }, maxLen: 7, inPlace: false }],
  ['batch-first 3x11x64, positions 990..1000', { shape: { B: 3, L: 11, C: 64, batchFirst: true, posOffset: 990 }, maxLen: 1001, inPlace: false }],
  ['seq-first 9x2x30, positions 995..1003', { shape: { B: 2, L: 9, C: 30, batchFirst: false, posOffset: 995 }, maxLen: 1024, inPlace: false }],
  ['seq-first 1x4x64 (one decoding step at 777)', { shape: { B: 4, L: 1, C: 64, batchFirst: false, posOffset: 777 }, maxLen: 1000, inPlace: true }],
  ['batch-first 4x300x64 (76800 elements)', { shape: { B: 4, L: 300, C: 64, batchFirst: true }, maxLen: 300, inPlace: true }],
  ['seq-first 300x2x123 (73800 elements)', { shape: { B: 2, L: 300, C: 123, batchFirst: false, posOffset: 700 }, maxLen: 1000, inPlace: true }],
  // embed_scale: sqrt(C) is not an f32 (it is rounded to one, as PyTorch rounds a Python scalar).
  ['batch-first 3x17x32, scale sqrt(32), positions 100..116', { shape: { B: 3, L: 17, C: 32, batchFirst: true, posOffset: 100, scale: Math.sqrt(32) }, maxLen: 200, inPlace: false }],
  ['seq-first 7x3x13 (odd C), scale -sqrt(13)', { shape: { B: 3, L: 7, C: 13, batchFirst: false, scale: -Math.sqrt(13) }, maxLen: 7, inPlace: false }],
  ['seq-first 9x2x30, scale sqrt(30), positions 995..1003', { shape: { B: 2, L: 9, C: 30, batchFirst: false, posOffset: 995, scale: Math.sqrt(30) }, maxLen: 1024, inPlace: true }],
  ['batch-first 2x300x128, scale sqrt(128) (76800 elements)', { shape: { B: 2, L: 300, C: 128, batchFirst: true, scale: Math.sqrt(128) }, maxLen: 300, inPlace: false }],
  ['seq-first 300x2x123, scale sqrt(123), positions 700..999', { shape: { B: 2, L: 300, C: 123, batchFirst: false, posOffset: 700, scale: Math.sqrt(123) }, maxLen: 1000, inPlace: true }],
  // No table: the step only scales (maxLen 0 and positions past it: nothing to check them against).
  ['scale only: batch-first 2x7x33, scale sqrt(33)', { shape: { B: 2, L: 7, C: 33, batchFirst: true, scale: Math.sqrt(33) }, maxLen: 0, inPlace: false, pe: false }],
  ['scale only: batch-first 4x5x48, scale sqrt(48)', { shape: { B: 4, L: 5, C: 48, batchFirst: true, scale: Math.sqrt(48) }, maxLen: 0, inPlace: true, pe: false }],
  ['scale only: seq-first 6x2x7, scale -0.5, positions 5000..5005', { shape: { B: 2, L: 6, C: 7, batchFirst: false, posOffset: 5000, scale: -0.5 }, maxLen: 0, inPlace: false, pe: false }],
  ['scale only: seq-first 300x2x128, scale sqrt(128) (76800 elements)', { shape: { B: 2, L: 300, C: 128, batchFirst: false, scale: Math.sqrt(128) }, maxLen: 0, inPlace: true, pe: false }],
];

function cpuCase(name: string, body: () => void): GpuCase {
  return { name, run: async () => body() };
}

export const cases: GpuCase[] = [
  cpuCase('posenc sinusoid follows the tutorial formula', () => {
    const C = 6;
    const got = [0, 1, 2, 3, 4, 5].map((j) => sinusoid(0, j, C));
    assertClose('PE[0]', got, [0, 1, 0, 1, 0, 1], { atol: 0 });
    const w1 = 10000 ** (-2 / C);
    const want = [Math.sin(7), Math.cos(7), Math.sin(7 * w1), Math.cos(7 * w1), Math.sin(7 * 10000 ** (-4 / C)), Math.cos(7 * 10000 ** (-4 / C))];
    assertClose('PE[7]', [0, 1, 2, 3, 4, 5].map((j) => sinusoid(7, j, C)), want, { atol: 1e-15 });
    // Odd C: the last column is a sine of its own frequency.
    assertClose('PE[3, 4] of C=5', [sinusoid(3, 4, 5)], [Math.sin(3 * 10000 ** (-4 / 5))], { atol: 1e-15 });
  }),
  cpuCase('posenc table within 3e-8 of f64 up to position 2000', () => {
    const C = 33;
    const maxLen = 2001;
    const t = sinusoidalTable(maxLen, C);
    const want = new Float64Array(maxLen * C);
    for (let p = 0; p < maxLen; p++) for (let c = 0; c < C; c++) want[p * C + c] = sinusoid(p, c, C);
    assertClose('sinusoidalTable', t, want, { atol: 3e-8, shape: [maxLen, C] });
  }),
  ...specs.map(([name, o], i) => peCase(name, o, 900 + i)),
  {
    name: 'posenc rejects positions past the table',
    run: (ctx) =>
      withScope(ctx, async (s) => {
        const err = await posEnc(ctx, { x: s.empty(8), pe: s.empty(8), out: s.empty(8) }, { B: 1, L: 2, C: 4, batchFirst: true, posOffset: 1 }, 2).then(
          () => undefined,
          (e: unknown) => String(e),
        );
        if (!err || !/positions 1\.\.2 exceed the 2-position/.test(err)) throw new Error(`got ${err}`);
      }),
  },
  {
    name: 'posenc rejects bad arguments, naming the label',
    run: (ctx) =>
      withScope(ctx, async (s) => {
        const x = s.empty(8, 'x');
        const pe = s.empty(8, 'pe');
        const out = s.empty(8, 'out');
        const sh: PosEncShape = { B: 1, L: 2, C: 4, batchFirst: true };
        const bad: [string, () => Promise<unknown>, RegExp][] = [
          ['scale NaN', () => posEnc(ctx, { x, pe, out }, { ...sh, scale: NaN }, 2, 'pp'), /pp: scale = NaN is not finite/],
          ['scale Infinity, no pe', () => posEnc(ctx, { out }, { ...sh, scale: Infinity }, 0, 'pp'), /pp: scale = Infinity is not finite/],
          ['scale past f32', () => posEnc(ctx, { x, out }, { ...sh, scale: 1e39 }, 0, 'pp'), /pp: scale = 1e\+39 overflows f32/],
          ['C = 0', () => posEnc(ctx, { x, pe, out }, { ...sh, C: 0 }, 2, 'pp'), /pp: C = 0 is not a positive integer/],
          ['posOffset -1', () => posEnc(ctx, { out }, { ...sh, posOffset: -1 }, 0, 'pp'), /pp: posOffset = -1 is not a non-negative integer/],
          ['positions past the table', () => posEnc(ctx, { x, pe, out }, { ...sh, posOffset: 1 }, 2, 'pp'), /pp: positions 1\.\.2 exceed the 2-position/],
          ['short x', () => posEnc(ctx, { x, pe, out }, { ...sh, L: 3 }, 3, 'pp'), /pp: buffer x holds 8 elements, the shape needs 12/],
          ['short pe', () => posEnc(ctx, { x, pe, out }, sh, 3, 'pp'), /pp: buffer pe holds 8 elements, the shape needs 12/],
          ['short out, no pe', () => posEnc(ctx, { out }, { ...sh, B: 2 }, 0, 'pp'), /pp: buffer out holds 8 elements, the shape needs 16/],
          ['x is out', () => posEnc(ctx, { x: out, pe, out }, sh, 2, 'pp'), /pp: x and out are the same buffer; omit x/],
          ['pe is out', () => posEnc(ctx, { pe: out, out }, sh, 2, 'pp'), /pp: buffer out must not be the same GPUBuffer as pe/],
        ];
        for (const [what, f, re] of bad) {
          const err = await f().then(
            () => 'no error',
            (e: unknown) => String(e),
          );
          if (!re.test(err)) throw new Error(`posenc ${what}: got '${err}', want ${re}`);
        }
      }),
  },
];
