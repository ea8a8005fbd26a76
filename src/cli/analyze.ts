// `attnscope analyze MODEL --inputs IN --out OUT --method M`: causal analysis (src/analysis/) written as safetensors:
// attributions (grad, ixg, ig), an activation patching sweep, head importance, the logit lens.
import type { Metric } from '../analysis/metric.ts';
import type { ModelInputs } from '../model/inputs.ts';
import type { Model } from '../model/model.ts';
import { readSafetensors, type TensorInput, writeSafetensors } from '../model/safetensors.ts';
import { intFlag, kernelsFlag, str, strs, UsageError } from './args.ts';
import type { Command, Values } from './command.ts';
import { readFile, readSource, type Source, withModel, writeAtomically } from './source.ts';
import { attribute, headImportance, logitLens, patchingSweep } from '../analysis/index.ts';

const METHODS = ['ig', 'ixg', 'grad', 'patch', 'heads', 'lens'] as const;
type Method = (typeof METHODS)[number];

/** --target: KIND:TOKENS[@POSITION] with KIND logit (one index), prob (one index) or diff (A,B); '@POS' alone: the argmax. */
export function parseTarget(spec: string | undefined): { metric?: Metric; position?: number } {
  if (spec === undefined) return {};
  const m = /^(?:(logit|prob|diff):(\d+)(?:,(\d+))?)?(?:@(-?\d+))?$/.exec(spec.trim());
  if (!m || (!m[1] && m[4] === undefined) || (m[1] === 'diff') !== (m[3] !== undefined)) {
    throw new UsageError(`--target ${spec}: expected logit:T, prob:T or diff:A,B, each optionally @POSITION (or @POSITION alone)`, 'analyze');
  }
  const position = m[4] === undefined ? undefined : Number(m[4]);
  if (!m[1]) return { position };
  const at = position === undefined ? {} : { position };
  const metric: Metric = m[1] === 'diff' ? { logitDiff: [Number(m[2]), Number(m[3])], ...at } : m[1] === 'prob' ? { prob: Number(m[2]), ...at } : { logit: Number(m[2]), ...at };
  return { metric, position };
}

function readInputs(src: Source, path: string): ModelInputs {
  const inputs: ModelInputs = Object.fromEntries(readSafetensors(readFile(path, 'inputs file'), path).tensors);
  src.outline.checkInputs(inputs);
  return inputs;
}

const f32 = (name: string, shape: readonly number[], data: ArrayLike<number>): TensorInput => ({ name, dtype: 'F32', shape, data: Float32Array.from(data) });

/** Runs `method` and returns what OUT holds, with a line saying what was found. */
async function analyze(model: Model, method: Method, inputs: ModelInputs, v: Values, src: Source): Promise<{ tensors: TensorInput[]; meta: object; line: string }> {
  const { metric, position } = parseTarget(str(v, 'target'));
  const maxBatch = intFlag(v, 'max-batch');
  if (method === 'ig' || method === 'ixg' || method === 'grad') {
    if (metric && !('logit' in metric)) throw new UsageError(`--target for --method ${method} is logit:T[@POSITION] (the output element attributed)`, 'analyze');
    const r = await attribute(model, inputs, { method, target: { position, index: metric && 'logit' in metric ? metric.logit : undefined }, steps: intFlag(v, 'steps'), maxBatch });
    const tensors = r.inputs.flatMap((a) => [f32(`${a.name}.attribution`, [a.positions, a.features], a.attribution), f32(`${a.name}.tokens`, [a.positions], a.tokens)]);
    if (r.completeness) tensors.push(f32('completeness', [2], [r.completeness.expected, r.completeness.error]));
    const extra = r.completeness ? `; completeness error ${r.completeness.error.toExponential(2)} of ${r.completeness.expected.toFixed(4)}` : '';
    return { tensors, meta: { target: r.target, value: r.value }, line: `${method}: output ${r.target.index} at position ${r.target.position} (${r.value.toFixed(4)}) attributed to ${r.inputs.map((a) => a.name).join(', ')}${extra}` };
  }
  if (method === 'lens') {
    const r = await logitLens(model, inputs, { topK: intFlag(v, 'top-k', 5), target: metric && 'logit' in metric ? metric.logit : undefined, maxBatch });
    const shape = [r.streams.length, r.positions, r.k];
    const tensors: TensorInput[] = [
      { name: 'lens.topk', dtype: 'I32', shape, data: Int32Array.from(r.topIds) },
      f32('lens.topk_logits', shape, r.topLogits),
      ...(r.ranks ? [{ name: 'lens.ranks', dtype: 'I32' as const, shape: shape.slice(0, 2), data: Int32Array.from(r.ranks) }] : []),
    ];
    return { tensors, meta: { streams: r.streams }, line: `lens: ${r.streams.length} streams x ${r.positions} positions, top ${r.k}` };
  }
  if (!metric) throw new UsageError(`--method ${method} needs --target diff:A,B | prob:T | logit:T [@POSITION] (the metric)`, 'analyze');
  if (method === 'heads') {
    const ablation = str(v, 'ablation') ?? 'zero';
    if (ablation !== 'zero' && ablation !== 'mean') throw new UsageError(`--ablation ${ablation}: expected zero or mean`, 'analyze');
    const r = await headImportance(model, inputs, metric, { ablation, maxBatch });
    return {
      tensors: [f32('heads.importance', [r.modules.length, r.heads], r.importance), f32('heads.base', [1], [r.base])],
      meta: { modules: r.modules },
      line: `heads: ${r.modules.length} modules x ${r.heads} heads (${ablation} ablation), base ${r.base.toFixed(4)}, ${r.forwards} forwards`,
    };
  }
  const corruptedPath = str(v, 'corrupted');
  if (corruptedPath === undefined) throw new UsageError('--method patch needs --corrupted IN.safetensors (the inputs patched from)', 'analyze');
  const sites = strs(v, 'sites');
  const per = str(v, 'per') ?? 'position';
  if (per !== 'position' && per !== 'head') throw new UsageError(`--per ${per}: expected position or head`, 'analyze');
  // By default every layer: the attention modules' parents (transformer.h.i, encoder.layers.i); per head, the modules.
  const layers = [...new Set(model.attentionModules().map((m) => (per === 'head' ? m.path : m.path.slice(0, m.path.lastIndexOf('.')))))];
  const r = await patchingSweep(model, { clean: inputs, corrupted: readInputs(src, corruptedPath), sites: sites.length ? sites : layers, per, metric, maxBatch });
  return {
    tensors: [
      ...r.modules.map((m, i) => f32(`patching.${m}`, [r.columns], r.values.subarray(i * r.columns, (i + 1) * r.columns))),
      f32('patching.clean', [1], [r.clean]),
      f32('patching.corrupted', [1], [r.corrupted]),
    ],
    meta: { per, modules: r.modules },
    line: `patch: ${r.modules.length} modules x ${r.columns} ${per === 'head' ? 'heads' : 'positions'}, clean ${r.clean.toFixed(4)}, corrupted ${r.corrupted.toFixed(4)}, ${r.forwards} forwards`,
  };
}

export const analyzeCommand: Command = {
  name: 'analyze',
  gpu: true,
  synopsis:
    'MODEL --inputs IN.safetensors --out OUT.safetensors --method ig|ixg|grad|patch|heads|lens [--target SPEC] [--steps N] [--corrupted IN2] [--sites GLOB]… [--per position|head] [--ablation zero|mean] [--top-k K] [--max-batch N] [--kernels K=V,…]',
  help: `causal analysis, every variant a row of batched forwards (docs/causal.md). SPEC: logit:T, prob:T or diff:A,B
(logit A minus B), each optionally @POSITION (default the last), or @POSITION alone.
ig / ixg / grad: attributions of output logit:T (default the largest) to the float inputs or the token embeddings,
  IN.attribution [L, E] and IN.tokens [L] per input; ig: --steps N points (32), 'completeness' [expected, error].
patch: the metric SPEC with each site patched from --corrupted: patching.<module> [positions] (or [heads] with
  --per head) per --sites module (default every layer), patching.clean, patching.corrupted.
heads: the metric's change with each head ablated (--ablation zero|mean): heads.importance [modules, heads].
lens: the logit lens of a causal LM: lens.topk [streams, L, K] ids, lens.topk_logits, lens.ranks of logit:T.`,
  options: {
    inputs: { type: 'string' },
    out: { type: 'string' },
    method: { type: 'string' },
    target: { type: 'string' },
    steps: { type: 'string' },
    corrupted: { type: 'string' },
    sites: { type: 'string', multiple: true },
    per: { type: 'string' },
    ablation: { type: 'string' },
    'top-k': { type: 'string' },
    'max-batch': { type: 'string' },
    kernels: { type: 'string' },
  },
  async run(modelPath, v, cli) {
    const method = str(v, 'method') as Method | undefined;
    if (!method || !METHODS.includes(method)) throw new UsageError(`analyze needs --method ${METHODS.join('|')}${method ? ` (not ${method})` : ''}`, 'analyze');
    const inPath = str(v, 'inputs');
    const out = str(v, 'out');
    if (inPath === undefined || out === undefined) throw new UsageError('analyze needs --inputs IN.safetensors and --out OUT.safetensors', 'analyze');
    parseTarget(str(v, 'target'));
    const kernels = kernelsFlag(v);
    const src = await readSource(modelPath, cli.progress);
    const inputs = readInputs(src, inPath);
    await withModel(src, { kernels, progress: cli.progress }, async (model) => {
      cli.progress.step(`analysing (${method})`);
      const { tensors, meta, line } = await analyze(model, method, inputs, v, src);
      cli.progress.step(`writing ${out}`);
      writeAtomically(out, writeSafetensors(tensors, { producer: 'attnscope', analysis: JSON.stringify({ method, ...meta }) }));
      cli.print(line);
      cli.print(`wrote ${out} (${tensors.map((t) => t.name).join(', ')})`);
    });
  },
};
