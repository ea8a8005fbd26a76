// The GPT-2 benchmark's engines, reference and checks, shared by its Node (bench/hf.ts) and page (bench/page/gpt2.ts)
// halves; no browser or Node globals.
import type { InputTensor } from '../src/model/inputs.ts';
import type { Model } from '../src/model/model.ts';
import { readSafetensors } from '../src/model/safetensors.ts';
import { maxAbsDiff } from './stats.ts';

export const GPT2_ENGINES = ['attnscope (browser)', 'ort-webgpu'] as const;
export type Gpt2Engine = (typeof GPT2_ENGINES)[number];

/** The hook that captures every layer's attention (attnscope), the capture target bench/hf.ts uses too. */
export const ATTENTION_TARGET = 'transformer.h.*.attn';

/** The benchmark model's reference, from gpt2.io.safetensors. */
export interface Gpt2Reference {
  inputIds: InputTensor;
  logits: Float32Array;
  /** Per layer, [1, H, L, L]. */
  attentions: Float32Array[];
  /** The greedy tokens after the prompt. */
  generated: number[];
}

export function readReference(bytes: Uint8Array): Gpt2Reference {
  const io = readSafetensors(bytes, 'gpt2.io.safetensors');
  const t = (n: string) => {
    const e = io.tensors.get(n);
    if (!e) throw new Error(`gpt2.io.safetensors: no tensor '${n}' (re-run tools/export_hf_bench.py)`);
    return e;
  };
  const attentions: Float32Array[] = [];
  for (let i = 0; io.tensors.has(`transformer.h.${i}.attn.weights`); i++) attentions.push(t(`transformer.h.${i}.attn.weights`).data as Float32Array);
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
  const layer = (path: string) => Number(/\.h\.(\d+)\.attn$/.exec(path)?.[1]);
  return Object.values(records)
    .sort((a, b) => layer(a.module) - layer(b.module))
    .map((r) => r.output![1].data);
}
