// Parity with PyTorch as GPU cases: every fixture made by tools/make_fixtures.py (torch 1.13) runs through
// Model.forward and must match PyTorch's `output` within 1e-5 (max abs; the outputs' magnitudes are 2.5 to 7.5, the
// worst error measured 4e-6). The same cases run in Node
// (test/parity.test.ts, files read from disk) and in the browser page (test/browser/main.ts, files fetched).
import type { GpuContext } from '../src/gpu/context.ts';
import { INPUT_NAMES, type ModelInputs } from '../src/model/inputs.ts';
import { Model } from '../src/model/model.ts';
import { readSafetensors } from '../src/model/safetensors.ts';
import index from './fixtures/index.json';
import type { GpuCase } from './harness.ts';

/** One entry of test/fixtures/index.json (the fields used here). */
export interface FixtureInfo {
  name: string;
  kind: string;
  description: string;
}

export const fixtures: readonly FixtureInfo[] = index;

/**
 * Max abs difference of PyTorch's output the model must stay within. Changing layer-norm eps from 1e-6 to 1e-5 moves
 * two fixtures' outputs by 1.5e-5 to 1.9e-5, and encoder-tinyvar-eps1e-6's (row variance near eps) by 2.4.
 */
export const PARITY_ATOL = 1e-5;

/** What a passing case measured. */
export interface ParityResult {
  name: string;
  maxAbsError: number;
  /** Wall time of the first forward (plan build + run) and of the second (cached plan), ms. */
  firstMs: number;
  cachedMs: number;
}

/** Max |a - b|; NaN anywhere (or a length mismatch) gives NaN, which fails every `<=` check. */
export function maxAbsDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  if (a.length !== b.length) return NaN;
  let m = 0;
  for (let i = 0; i < a.length; i++) {
    const d = Math.abs(a[i] - b[i]);
    if (Number.isNaN(d)) return NaN;
    if (d > m) m = d;
  }
  return m;
}

/** The first index where two f32 arrays differ bitwise (NaN equals the same NaN, -0 differs from 0), or -1. */
function firstBitDifference(a: Float32Array, b: Float32Array): number {
  if (a.length !== b.length) return Math.min(a.length, b.length);
  const x = new Uint32Array(a.buffer, a.byteOffset, a.length);
  const y = new Uint32Array(b.buffer, b.byteOffset, b.length);
  for (let i = 0; i < x.length; i++) if (x[i] !== y[i]) return i;
  return -1;
}

/**
 * One case per fixture in test/fixtures/index.json (those `filter` keeps). Each loads `<name>.model.safetensors`
 * and `<name>.io.safetensors` through `load`, runs Model.forward on the io file's inputs, checks the output against
 * `output` (max abs <= PARITY_ATOL), then checks that a second forward (cached plan) is bit-identical.
 */
export function parityCases(
  load: (file: string) => Promise<Uint8Array>,
  filter: (name: string) => boolean = () => true,
  report?: (r: ParityResult) => void,
): GpuCase[] {
  return fixtures
    .filter((fx) => filter(fx.name))
    .map((fx) => ({
      name: `parity ${fx.name}: ${fx.description}`,
      async run(ctx: GpuContext): Promise<void> {
        const modelFile = `${fx.name}.model.safetensors`;
        const ioFile = `${fx.name}.io.safetensors`;
        const [modelBytes, ioBytes] = await Promise.all([load(modelFile), load(ioFile)]);
        const io = readSafetensors(ioBytes, ioFile);
        const inputs: ModelInputs = {};
        for (const n of INPUT_NAMES) {
          const t = io.tensors.get(n);
          if (t) inputs[n] = t;
        }
        const want = io.tensors.get('output');
        if (!want || want.dtype !== 'F32') throw new Error(`${ioFile}: no F32 'output' tensor`);
        const model = Model.load(ctx, modelBytes, modelFile);
        try {
          let t0 = performance.now();
          const got = await model.forward(inputs);
          const firstMs = performance.now() - t0;
          if (got.shape.join() !== want.shape.join()) throw new Error(`${fx.name}: output shape [${got.shape.join(', ')}], PyTorch's is [${want.shape.join(', ')}]`);
          const err = maxAbsDiff(got.output, want.data);
          if (!(err <= PARITY_ATOL)) throw new Error(`${fx.name}: max |attnscope - torch| = ${err.toExponential(3)} > ${PARITY_ATOL}`);
          // A second forward reuses the cached plan and must give the same bits.
          t0 = performance.now();
          const again = await model.forward(inputs);
          const cachedMs = performance.now() - t0;
          const at = firstBitDifference(again.output, got.output);
          if (at >= 0) throw new Error(`${fx.name}: the second forward (cached plan) differs at index ${at}: ${again.output[at]} vs ${got.output[at]}`);
          report?.({ name: fx.name, maxAbsError: err, firstMs, cachedMs });
        } finally {
          model.dispose();
        }
      },
    }));
}
