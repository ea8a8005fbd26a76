// Hugging Face checkpoints against tools/hf_reference.py (a torch port of HF's modeling code): every case of
// test/fixtures/hf/index.json loads from its files as published (config.json + safetensors, F16 / BF16, sharded, old
// layouts) and must match the reference's output within 1e-4 and every layer's attention within 1e-5 at the query
// positions that are not padding; gradient cases also match parameter and attention-probability gradients within
// 1e-4 (relative to the largest). The same cases run in Node (test/hf.test.ts) and in the browser page.
import type { GpuContext } from '../src/gpu/context.ts';
import type { CheckpointFiles } from '../src/model/hf/checkpoint.ts';
import type { InputTensor, ModelInputs } from '../src/model/inputs.ts';
import { Model } from '../src/model/model.ts';
import { readSafetensors, type TensorEntry } from '../src/model/safetensors.ts';
import index from './fixtures/hf/index.json';
import type { GpuCase } from './harness.ts';

export interface HfCaseInfo {
  name: string;
  family: string;
  files: string[];
  inputs: string[];
  captures: string[];
  output_shape: number[];
  grad: { target: number; target_index: number[]; params: string[] } | null;
  /** Greedy tokens the reference generated from input_ids by full recompute (io generate.tokens [B, N]). */
  generate?: { max_new_tokens: number };
}

export const hfCases: readonly HfCaseInfo[] = index.cases;

export const OUTPUT_ATOL = 1e-4;
export const ATTENTION_ATOL = 1e-5;
export const GRAD_RTOL = 1e-4;

/** The families the library supports so far; cases of others are listed, not run. */
export const SUPPORTED = new Set(['gpt2', 'bert', 'roberta', 'distilbert', 'llama', 'qwen2']);

/** What a passing case measured. */
export interface HfResult {
  name: string;
  output: number;
  attention: number;
  grad?: number;
  /** Generated tokens equal to the reference's. */
  generated?: number;
}

/** A case's directory as CheckpointFiles, over any byte reader (disk in Node, fetch in the browser). */
export function caseFiles(c: HfCaseInfo, read: (path: string) => Promise<Uint8Array>): CheckpointFiles {
  return { label: `hf/${c.name}`, list: async () => c.files, read: (name) => read(`${c.name}/${name}`) };
}

/** max |got - want| over the entries `keep` selects. */
function maxDiff(label: string, got: ArrayLike<number>, want: ArrayLike<number>, keep: (i: number) => boolean = () => true): number {
  if (got.length !== want.length) throw new Error(`${label}: ${got.length} values, the reference has ${want.length}`);
  let m = 0;
  for (let i = 0; i < got.length; i++) {
    if (!keep(i)) continue;
    const d = Math.abs(got[i] - want[i]);
    if (!(d <= m)) m = d; // NaN wins
  }
  return m;
}

function check(label: string, err: number, tol: number): void {
  if (!(err <= tol)) throw new Error(`${label}: max |attnscope - reference| ${err.toExponential(2)} over ${tol}`);
}

export function makeHfCases(read: (path: string) => Promise<Uint8Array>, onResult?: (r: HfResult) => void): GpuCase[] {
  return hfCases
    .filter((c) => SUPPORTED.has(c.family))
    .map((c) => ({
      name: c.name,
      async run(ctx: GpuContext) {
        const io = readSafetensors(await read(`${c.name}/io.safetensors`), `${c.name}/io.safetensors`);
        const want = (name: string): TensorEntry => {
          const t = io.tensors.get(name);
          if (!t) throw new Error(`${c.name}: io.safetensors has no ${name}`);
          return t;
        };
        const inputs: ModelInputs = Object.fromEntries(c.inputs.map((n) => [n, want(n) as InputTensor]));
        const L = want('input_ids').shape[1];
        const mask = io.tensors.get('attention_mask')?.data;
        /** Whether query position l of row b is a real token (padded rows are degenerate in HF: see docs/hf-reference.md). */
        const real = (b: number, l: number) => !mask || mask[b * L + l] === 1;
        const model = await Model.fromCheckpoint(ctx, caseFiles(c, read));
        try {
          for (const p of c.captures) model.setForwardHook(p, p);
          const grad = c.grad;
          const { output, shape } = await model.forward(inputs, grad ? { grad: true, params: grad.params } : {});
          if (shape.join() !== c.output_shape.join()) throw new Error(`${c.name}: output [${shape}], the reference's is [${c.output_shape}]`);
          const per = shape[2];
          const outErr = maxDiff(`${c.name} output`, output, want('output').data, (i) => real(Math.floor(i / (L * per)), Math.floor(i / per) % L));
          check(`${c.name} output`, outErr, OUTPUT_ATOL);
          let attErr = 0;
          for (const p of c.captures) {
            const rec = model.hooks[p];
            if (!rec) throw new Error(`${c.name}: no record for ${p}`);
            const w = want(`${p}.weights`);
            const [, H, , S] = w.shape;
            if (rec.output![1].shape.join() !== w.shape.join()) throw new Error(`${p}: weights [${rec.output![1].shape}], reference [${w.shape}]`);
            attErr = Math.max(attErr, maxDiff(`${p} weights`, rec.output![1].data, w.data, (i) => real(Math.floor(i / (H * L * S)), Math.floor(i / S) % L)));
          }
          check(`${c.name} attention`, attErr, ATTENTION_ATOL);
          let gradErr: number | undefined;
          if (grad) {
            const r = await model.backward({ index: grad.target_index });
            gradErr = 0;
            const rel = (label: string, got: ArrayLike<number>, w: ArrayLike<number>) => {
              const scale = Math.max(...Array.from(w, Math.abs));
              const e = maxDiff(label, got, w) / (scale || 1);
              check(label, e, GRAD_RTOL);
              gradErr = Math.max(gradErr!, e);
            };
            for (const p of grad.params) rel(`${c.name} grad ${p}`, r.params[p].data, want(`grad.${p}`).data);
            for (const a of r.attention) rel(`${c.name} ${a.path} weights grad`, a.grad.data, want(`${a.path}.weights.grad`).data);
          }
          let generated: number | undefined;
          if (c.generate) {
            // generate (a prefill, then one KV-cached decode plan per token) against the reference's full recompute.
            const want = io.tensors.get('generate.tokens')!;
            const r = await model.generate(inputs.input_ids!, { maxNewTokens: c.generate.max_new_tokens, eos: null });
            const got = r.tokens.flat();
            if (got.join() !== Array.from(want.data, Number).join()) throw new Error(`${c.name}: generated ${JSON.stringify(r.tokens)}, the reference's full recompute [${Array.from(want.data)}] (rows of ${want.shape[1]})`);
            generated = got.length;
          }
          onResult?.({ name: c.name, output: outErr, attention: attErr, ...(gradErr === undefined ? {} : { grad: gradErr }), ...(generated === undefined ? {} : { generated }) });
        } finally {
          model.dispose();
        }
      },
    }));
}
