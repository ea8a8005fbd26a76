// The in-browser half of the checkpoint benchmarks (bench/hf.ts drives it through window.gpt2): the GPT-2-small-shaped
// model of tools/export_hf_bench.py or the SmolLM-135M-shaped one of tools/export_llama_bench.py (HF_BENCHES), every
// layer's attention brought back to the CPU by both engines:
//   attnscope (browser)   its F16 checkpoint (config.json + model.safetensors, fetched and handed over as files, as a
//                         user's dropped folder would be), a forward hook on every attention module
//   ort-webgpu            onnxruntime-web's WebGPU provider ('onnxruntime-web/webgpu') on NAME.onnx, the decoder with
//                         past key/values that transformers.js runs, exported with attentions.{i} as outputs; the
//                         present key/values stay on the GPU between steps ('gpu-buffer'), as transformers.js keeps them
// Generation is greedy for both: attnscope's model.generate (KV caches), and for ort the prompt with an empty past,
// then one token per run with the previous run's presents as the past.
import type * as Ort from 'onnxruntime-web';
import { fileListFiles } from '../../src/model/hf/browser_files.ts';
import { Model } from '../../src/model/model.ts';
import { attentionCheck, capturedAttentions, type ForwardResult, type GenerateRun, type Gpt2Engine, type Gpt2Reference, type HfBench, HF_BENCHES, readReference } from '../gpt2_check.ts';
import { errorText, maxAbsDiff } from '../stats.ts';
import { fetchBytes, gpuContext, modelUrl, ortAdapter, ortBuild } from './shared.ts';

interface OrtSession {
  ort: typeof Ort;
  session: Ort.InferenceSession;
  layers: number;
  emptyPast: Record<string, Ort.Tensor>;
}

let ref: Gpt2Reference | undefined;
let model: Model | undefined;
let ortSession: OrtSession | undefined;

async function fetchFile(dir: string, name: string): Promise<File> {
  const r = await fetch(modelUrl(`${dir}/${name}`));
  if (!r.ok) throw new Error(`${dir}/${name}: HTTP ${r.status} (run npm run bench first: it writes bench/models/)`);
  return new File([await r.blob()], name);
}

/** Layers, KV heads and head dim, under GPT-2's or Llama's config.json names. */
interface Dims {
  n_layer?: number;
  n_head?: number;
  n_embd?: number;
  num_hidden_layers?: number;
  num_attention_heads?: number;
  num_key_value_heads?: number;
  hidden_size?: number;
}

async function loadOrt(b: HfBench): Promise<string> {
  const c = JSON.parse(await (await fetchFile(b.dir, 'config.json')).text()) as Dims;
  const nLayer = (c.n_layer ?? c.num_hidden_layers)!;
  const heads = (c.n_head ?? c.num_attention_heads)!;
  const config = { n_layer: nLayer, kvHeads: c.num_key_value_heads ?? heads, headDim: (c.n_embd ?? c.hidden_size)! / heads };
  const layers = Array.from({ length: config.n_layer }, (_, i) => i);
  const kv = (prefix: string) => layers.flatMap((i) => [`${prefix}.${i}.key`, `${prefix}.${i}.value`]);
  const ort = await ortBuild('onnxruntime-web/webgpu');
  const session = await ort.InferenceSession.create(await fetchBytes(modelUrl(`${b.name}.onnx`)), {
    executionProviders: ['webgpu'],
    graphOptimizationLevel: 'all',
    preferredOutputLocation: Object.fromEntries(kv('present').map((n) => [n, 'gpu-buffer' as const])),
  });
  // The prompt's run has no past: [1, H, 0, D] tensors, as transformers.js feeds them.
  const empty = new ort.Tensor('float32', new Float32Array(0), [1, config.kvHeads, 0, config.headDim]);
  ortSession = { ort, session, layers: config.n_layer, emptyPast: Object.fromEntries(kv('past_key_values').map((n) => [n, empty])) };
  return ortAdapter(ort);
}

async function load(name: HfBench['name'], engines: readonly Gpt2Engine[]): Promise<{ engine: Gpt2Engine; loadMs: number; adapter?: string; error?: string }[]> {
  await unload();
  const b = HF_BENCHES[name];
  ref = readReference(await fetchBytes(modelUrl(`${b.name}.io.safetensors`)), b);
  const out = [];
  for (const engine of engines) {
    const t0 = performance.now();
    try {
      let adapter: string | undefined;
      if (engine === 'ort-webgpu') adapter = await loadOrt(b);
      else {
        const files = await Promise.all(['config.json', 'model.safetensors'].map((n) => fetchFile(b.dir, n)));
        model = await Model.fromCheckpoint(await gpuContext(), fileListFiles(files, b.dir));
        model.setForwardHook('attn', b.attention);
      }
      out.push({ engine, loadMs: performance.now() - t0, ...(adapter ? { adapter } : {}) });
    } catch (e) {
      out.push({ engine, loadMs: performance.now() - t0, error: errorText(e) });
    }
  }
  return out;
}

const need = <T>(x: T | undefined, what: string): T => {
  if (x === undefined) throw new Error(`gpt2: ${what} not loaded`);
  return x;
};

function ids(s: OrtSession, tokens: readonly number[]): Ort.Tensor {
  return new s.ort.Tensor('int64', BigInt64Array.from(tokens, (t) => BigInt(t)), [1, tokens.length]);
}

/** One ort run: the logits and every attention on the CPU, the presents left on the GPU for the caller. */
async function ortRun(s: OrtSession, feeds: Record<string, Ort.Tensor>) {
  const out = await s.session.run(feeds);
  const logits = (await out.logits.getData()) as Float32Array;
  const attentions: Float32Array[] = [];
  for (let i = 0; i < s.layers; i++) attentions.push((await out[`attentions.${i}`].getData()) as Float32Array);
  const past: Record<string, Ort.Tensor> = {};
  for (let i = 0; i < s.layers; i++) for (const kv of ['key', 'value']) past[`past_key_values.${i}.${kv}`] = out[`present.${i}.${kv}`];
  return { logits, attentions, past };
}

const disposeAll = (ts: Record<string, Ort.Tensor>) => Object.values(ts).forEach((t) => t.dispose());

async function forward(engine: Gpt2Engine): Promise<ForwardResult> {
  const r = need(ref, 'reference');
  const t0 = performance.now();
  if (engine === 'attnscope (browser)') {
    const m = need(model, 'attnscope');
    const out = await m.forward({ input_ids: r.inputIds });
    const ms = performance.now() - t0;
    return { ms, maxAbsErr: maxAbsDiff(out.output, r.logits), ...attentionCheck(capturedAttentions(m.hooks), r) };
  }
  const s = need(ortSession, 'ort-webgpu');
  const out = await ortRun(s, { input_ids: ids(s, Array.from(r.inputIds.data as ArrayLike<number>)), ...s.emptyPast });
  const ms = performance.now() - t0;
  disposeAll(out.past);
  return { ms, maxAbsErr: maxAbsDiff(out.logits, r.logits), ...attentionCheck(out.attentions, r) };
}

function argmaxLast(logits: Float32Array, V: number): number {
  const off = logits.length - V;
  let best = 0;
  for (let v = 1; v < V; v++) if (logits[off + v] > logits[off + best]) best = v;
  return best;
}

async function generate(engine: Gpt2Engine, maxNewTokens: number): Promise<GenerateRun> {
  const r = need(ref, 'reference');
  const t0 = performance.now();
  if (engine === 'attnscope (browser)') {
    const g = await need(model, 'attnscope').generate(r.inputIds, { maxNewTokens, eos: null });
    const ms = performance.now() - t0;
    return { ms, tokens: g.tokens[0], attentions: g.steps.reduce((a, s) => a + Object.keys(s).length, 0) };
  }
  const s = need(ortSession, 'ort-webgpu');
  const V = r.logits.length / r.inputIds.data.length;
  const tokens: number[] = [];
  let feeds: Record<string, Ort.Tensor> = { input_ids: ids(s, Array.from(r.inputIds.data as ArrayLike<number>)), ...s.emptyPast };
  let prefillMs = 0;
  let attentions = 0;
  for (let step = 0; step < maxNewTokens; step++) {
    const out = await ortRun(s, feeds);
    if (step > 0) disposeAll(feeds); // the previous presents, now superseded by these
    tokens.push(argmaxLast(out.logits, V));
    attentions += out.attentions.length;
    if (step === 0) prefillMs = performance.now() - t0;
    feeds = { input_ids: ids(s, [tokens.at(-1)!]), ...out.past };
  }
  const ms = performance.now() - t0;
  disposeAll(feeds);
  return { ms, tokens, prefillMs, attentions };
}

async function unload(): Promise<void> {
  model?.dispose();
  model = undefined;
  await ortSession?.session.release();
  ortSession = undefined;
}

export const gpt2Page = { load, forward, generate, unload };
