// Relevance rows (issue #20), before and after, side by side in one run on this machine's adapter:
//  before: model.backward(target) reads every attention's probabilities and gradients back ([B, H, L, S] each) and
//          model.relevanceMaps rolls them out on the CPU (full S x S x S products), one row kept;
//  after:  model.relevanceRow(target, 0, i): the same backward, the row computed on the GPU, S floats read back.
// Per output row: wall time, and main-thread time: the wall time less the time spent awaiting the GPU (mapAsync,
// onSubmittedWorkDone, popErrorScope, counted while any is pending), and the main thread's own CPU time (Linux:
// /proc/self/task/<pid>/stat, 10 ms ticks; unlike the first, not inflated when a loaded machine preempts the thread,
// but it includes what Dawn does on the main thread while it waits). The two are run alternately on the same
// positions and checked equal (1e-5 of the row's largest value).
// Models, seeded (bench/model_common.ts randomWeights): a 6+6-layer x 12-head seq2seq (d_model 384, ff 1536) with
// --target tokens out, and a 6-layer x 12-head causal lm (d_model 384), at source lengths --lengths.
// Run: npm run bench:relevance -- [--lengths 48,160,320] [--target 12] [--rows 3] [--models seq2seq,lm]
//      [--json bench/results/relevance-<adapter>.json]
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { createNodeContext } from '../src/gpu/node.ts';
import { type FileConfig, writeModelFile } from '../src/model/config.ts';
import type { ModelInputs } from '../src/model/inputs.ts';
import { Model } from '../src/model/model.ts';
import type { BackwardTarget } from '../src/model/target.ts';
import { BenchArgs } from './args.ts';
import { median, randomWeights, rng } from './model_common.ts';

const args = new BenchArgs('npm run bench:relevance -- [--lengths 48,160,320] [--target 12] [--rows 3] [--models seq2seq,lm] [--json FILE]', ['lengths', 'target', 'rows', 'models', 'json']);
const lengths = args.ints('lengths', '48,160,320');
const targetLen = args.int('target', 12);
const rowsPer = args.int('rows', 3);
const kinds = args.list('models', 'seq2seq,lm', ['seq2seq', 'lm'] as const);
const log = (s: string) => console.error(s);

const vocab = (n: number) => Array.from({ length: n }, (_, i) => (i < 3 ? ['<pad>', '<bos>', '<eos>'][i] : `t${i}`));
const COMMON = {
  format_version: 1, d_model: 384, nhead: 12, dim_feedforward: 1536, activation: 'relu', layer_norm_eps: 1e-5, norm_first: false,
  batch_first: true, bias: true, encoder_norm: true, decoder_norm: true, positional: 'sinusoidal', embed_scale: Math.sqrt(384),
};

function seq2seq(S: number): { config: FileConfig; inputs: ModelInputs } {
  const config = {
    ...COMMON, kind: 'seq2seq', num_encoder_layers: 6, num_decoder_layers: 6, max_len: Math.max(S, targetLen) + 1,
    src_vocab: vocab(40), tgt_vocab: vocab(20), pad_id: 0, bos_id: 1, eos_id: 2,
  } as unknown as FileConfig;
  const rand = rng(S);
  const ids = (n: number, V: number) => ({ dtype: 'I32' as const, data: Int32Array.from({ length: n }, () => 3 + Math.floor(rand() * (V - 3))), shape: [1, n] });
  return { config, inputs: { src: ids(S, 40), tgt: ids(targetLen, 20) } };
}

function lm(S: number): { config: FileConfig; inputs: ModelInputs } {
  const config = {
    ...COMMON, kind: 'lm', num_encoder_layers: 6, num_decoder_layers: 0, max_len: S, norm_first: true, decoder_norm: false,
    vocab: vocab(40), pad_id: 0, bos_id: 1, eos_id: 2, causal: true,
  } as unknown as FileConfig;
  const rand = rng(S + 1);
  return { config, inputs: { src: { dtype: 'I32', data: Int32Array.from({ length: S }, () => 3 + Math.floor(rand() * 37)), shape: [1, S] } } };
}

const ctx = await createNodeContext({ who: 'bench:relevance' });

/** ms spent with at least one GPU wait pending, since the start. */
let awaited = 0;
let pending = 0;
let since = 0;
/** Wraps the promise-returning `name` of `proto` so that its pending time counts as awaiting the GPU. */
function countWaits(proto: object, name: string): void {
  const orig = Reflect.get(proto, name) as (...a: unknown[]) => Promise<unknown>;
  Reflect.set(proto, name, function (this: unknown, ...a: unknown[]) {
    if (pending++ === 0) since = performance.now();
    return orig.apply(this, a).finally(() => {
      if (--pending === 0) awaited += performance.now() - since;
    });
  });
}
const probe = ctx.buffers.create(4, GPUBufferUsage.MAP_READ | GPUBufferUsage.COPY_DST, 'probe');
countWaits(Object.getPrototypeOf(probe) as object, 'mapAsync');
ctx.buffers.destroy(probe);
countWaits(Object.getPrototypeOf(ctx.device.queue) as object, 'onSubmittedWorkDone');
countWaits(Object.getPrototypeOf(ctx.device) as object, 'popErrorScope');

/** CPU ms of the main thread so far (utime + stime of its task; 100 ticks a second). */
function mainCpuMs(): number {
  const stat = readFileSync(`/proc/self/task/${process.pid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return (Number(fields[11]) + Number(fields[12])) * 10;
}

/** Wall ms, main-thread ms outside GPU waits, and main-thread CPU ms of `body`. */
async function timed<T>(body: () => Promise<T>): Promise<{ value: T; wallMs: number; mainMs: number; cpuMs: number }> {
  const a0 = awaited;
  const c0 = mainCpuMs();
  const t0 = performance.now();
  const value = await body();
  const wallMs = performance.now() - t0;
  return { value, wallMs, mainMs: wallMs - (awaited - a0), cpuMs: mainCpuMs() - c0 };
}

const results: Record<string, unknown>[] = [];
try {
  log(`adapter: ${ctx.adapterName}`);
  for (const kind of kinds) {
    for (const S of lengths) {
      const { config, inputs } = kind === 'seq2seq' ? seq2seq(S) : lm(S);
      const model = Model.load(ctx, writeModelFile(config, randomWeights(config, 7)), `${kind} ${S}`);
      try {
        const fwd = await model.forward(inputs, { grad: true });
        const [, T, V] = fwd.shape;
        const positions = [...new Set(Array.from({ length: rowsPer }, (_, k) => Math.round((k * (T - 1)) / Math.max(1, rowsPer - 1))))];
        const target = (i: number): BackwardTarget => {
          let best = 0;
          for (let v = 1; v < V; v++) if (fwd.output[i * V + v] > fwd.output[i * V + best]) best = v;
          return { index: [0, i, best] };
        };
        // Warm both paths (pipelines, the row program) on the last position, untimed.
        const map = (await model.relevanceRow(target(T - 1), 0, T - 1)).map;
        model.relevanceMaps(await model.backward(target(T - 1)));
        const before: { wallMs: number; mainMs: number; cpuMs: number; mapsMs: number }[] = [];
        const after: { wallMs: number; mainMs: number; cpuMs: number }[] = [];
        let worst = 0;
        for (const i of positions) {
          let mapsMs = 0;
          const b = await timed(async () => {
            const r = await model.backward(target(i));
            const t0 = performance.now();
            const m = model.relevanceMaps(r)[map]!;
            mapsMs = performance.now() - t0;
            const W = m.shape[2];
            return m.data.slice(i * W, (i + 1) * W);
          });
          const a = await timed(() => model.relevanceRow(target(i), 0, i));
          const top = Math.max(...b.value.map(Math.abs));
          const err = Math.max(...a.value.row.map((v, j) => Math.abs(v - b.value[j]))) / top;
          if (!(err <= 1e-5)) throw new Error(`${kind} S ${S} row ${i}: GPU row differs from the CPU map by ${err.toExponential(2)} of its largest value`);
          worst = Math.max(worst, err);
          before.push({ wallMs: b.wallMs, mainMs: b.mainMs, cpuMs: b.cpuMs, mapsMs });
          after.push({ wallMs: a.wallMs, mainMs: a.mainMs, cpuMs: a.cpuMs });
        }
        const med = (xs: number[]) => +median(xs).toFixed(1);
        const r = {
          model: kind === 'seq2seq' ? `seq2seq 6+6 x 12 heads, d 384, ${T} target tokens` : 'lm 6 x 12 heads, d 384',
          S,
          rows: positions.length,
          map,
          before: { wallMs: med(before.map((x) => x.wallMs)), mainMs: med(before.map((x) => x.mainMs)), mainCpuMs: med(before.map((x) => x.cpuMs)), relevanceMapsMs: med(before.map((x) => x.mapsMs)) },
          after: { wallMs: med(after.map((x) => x.wallMs)), mainMs: med(after.map((x) => x.mainMs)), mainCpuMs: med(after.map((x) => x.cpuMs)) },
          maxRelErr: +worst.toExponential(2),
        };
        results.push(r);
        log(
          `${r.model}, S ${S}: per row (median of ${r.rows}) wall ${r.before.wallMs} -> ${r.after.wallMs} ms (${(r.before.wallMs / r.after.wallMs).toFixed(2)}x), ` +
            `main thread outside GPU waits ${r.before.mainMs} -> ${r.after.mainMs} ms (${(r.before.mainMs / r.after.mainMs).toFixed(1)}x; relevanceMaps alone ${r.before.relevanceMapsMs} ms), ` +
            `main-thread CPU ${r.before.mainCpuMs} -> ${r.after.mainCpuMs} ms; max rel err ${r.maxRelErr}`,
        );
      } finally {
        model.dispose();
      }
    }
  }
} finally {
  ctx.dispose();
}
const out = args.string('json');
const report = { adapter: ctx.adapterName, date: new Date().toISOString(), results };
if (out) {
  mkdirSync(dirname(out), { recursive: true });
  writeFileSync(out, `${JSON.stringify(report, null, 2)}\n`);
  log(`wrote ${join(out)}`);
} else console.log(JSON.stringify(report, null, 2));
