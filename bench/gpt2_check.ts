// The Hugging Face checkpoint benchmarks' engines, models, reference and checks (GPT-2-small and SmolLM-135M shaped),
// shared by their Node (bench/hf.ts) and page (bench/page/gpt2.ts) halves; no browser or Node globals.
import type { InputTensor } from '../src/model/inputs.ts';
import type { Model } from '../src/model/model.ts';
import { readSafetensors } from '../src/model/safetensors.ts';
import { maxAbsDiff } from './stats.ts';

export const GPT2_ENGINES = ['attnscope (browser)', 'ort-webgpu'] as const;
export type Gpt2Engine = (typeof GPT2_ENGINES)[number];

/** A benchmark checkpoint: its exporter's files in bench/models/ and the hook that captures every layer's attention. */
export interface HfBench {
  /** Its --configs name and the stem of its files (NAME.onnx, NAME.io.safetensors, NAME.json). */
  name: 'gpt2' | 'smollm';
  /** What it is shaped as, for the report. */
  title: string;
  /** The F16 checkpoint's folder. */
  dir: string;
  /** Every layer's attention module (a hook pattern). */
  attention: string;
  /** tools/ script that writes it. */
  exporter: string;
}

export const HF_BENCHES: Readonly<Record<HfBench['name'], HfBench>> = {
  gpt2: { name: 'gpt2', title: 'GPT-2-small-shaped GPT2LMHeadModel', dir: 'gpt2-f16', attention: 'transformer.h.*.attn', exporter: 'export_hf_bench.py' },
  smollm: { name: 'smollm', title: 'SmolLM-135M-shaped LlamaForCausalLM (grouped-query attention: 9 heads on 3 KV heads)', dir: 'smollm-f16', attention: 'model.layers.*.self_attn', exporter: 'export_llama_bench.py' },
};

/** The layer index of an attention module's path or capture name: its first number (transformer.h.3.attn, model.layers.3.self_attn). */
const layerOf = (path: string) => Number(/\.(\d+)\./.exec(path)?.[1]);

/** The benchmark model's reference, from gpt2.io.safetensors. */
export interface Gpt2Reference {
  inputIds: InputTensor;
  logits: Float32Array;
  /** Per layer, [1, H, L, L]. */
  attentions: Float32Array[];
  /** The greedy tokens after the prompt. */
  generated: number[];
}

export function readReference(bytes: Uint8Array, b: HfBench): Gpt2Reference {
  const io = readSafetensors(bytes, `${b.name}.io.safetensors`);
  const t = (n: string) => {
    const e = io.tensors.get(n);
    if (!e) throw new Error(`${b.name}.io.safetensors: no tensor '${n}' (re-run tools/${b.exporter})`);
    return e;
  };
  const names = [...io.tensors.keys()].filter((n) => n.endsWith('.weights')).sort((x, y) => layerOf(x) - layerOf(y));
  const attentions = names.map((n) => t(n).data as Float32Array);
  return { inputIds: t('input_ids'), logits: t('logits').data as Float32Array, attentions, generated: Array.from(t('generated').data) };
}

export interface ForwardResult {
  ms: number;
  /** max |logits - reference logits|. */
  maxAbsErr: number;
  /** max |attention - reference| over every layer's probabilities. */
  maxAttnErr: number;
  /** Attention maps brought back to the CPU, and their bytes. */
  attentions: number;
  attentionBytes: number;
}

export interface GenerateRun {
  ms: number;
  tokens: number[];
  /** ort: the prompt's run (prefill) within ms. */
  prefillMs?: number;
  /** Attention maps brought back to the CPU over all steps. */
  attentions: number;
}

/** Compares captured attention maps (by layer) with the reference. */
export function attentionCheck(maps: Float32Array[], ref: Gpt2Reference): Pick<ForwardResult, 'maxAttnErr' | 'attentions' | 'attentionBytes'> {
  const maxAttnErr = maps.length === ref.attentions.length ? Math.max(...maps.map((m, i) => maxAbsDiff(m, ref.attentions[i]))) : Infinity;
  return { maxAttnErr, attentions: maps.length, attentionBytes: maps.reduce((a, m) => a + m.byteLength, 0) };
}

/** Each layer's captured attention weights, by layer, from a model's hook records ([attn_output, weights]). */
export function capturedAttentions(records: Model['hooks']): Float32Array[] {
  return Object.values(records)
    .sort((a, b) => layerOf(`${a.module}.`) - layerOf(`${b.module}.`))
    .map((r) => r.output![1].data);
}
