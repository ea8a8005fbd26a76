// Language models the long-context tests share: the PyTorch-made lm fixture, and a seeded lm long enough for chunks.
import { readFileSync } from 'node:fs';
import type { GpuContext } from '../src/gpu/context.ts';
import { expectedTensors, type FileConfig, writeModelFile } from '../src/model/config.ts';
import { INPUT_NAMES, type ModelInputs } from '../src/model/inputs.ts';
import { Model } from '../src/model/model.ts';
import { readSafetensors } from '../src/model/safetensors.ts';
import { rng, uniform } from './harness.ts';

const dir = new URL('./fixtures/', import.meta.url);

/** test/fixtures/lm-learned-causal: a causal 2-layer lm with key padding, B 2, H 2, L = S = 12, and its inputs. */
export function fixtureLm(ctx: GpuContext): { model: Model; inputs: ModelInputs } {
  const name = 'lm-learned-causal';
  const model = Model.load(ctx, readFileSync(new URL(`${name}.model.safetensors`, dir)), name);
  const io = readSafetensors(readFileSync(new URL(`${name}.io.safetensors`, dir)), name);
  const inputs: ModelInputs = {};
  for (const n of INPUT_NAMES) if (io.tensors.has(n)) inputs[n] = io.tensors.get(n)!;
  return { model, inputs };
}

/** A causal 2-layer lm of seeded weights (d_model 16, 2 heads, sinusoidal positions up to 512) and `L` seeded tokens. */
export function seededLm(ctx: GpuContext, seed: number, L: number): { model: Model; inputs: ModelInputs } {
  const { file, inputs } = seededLmFile(seed, L);
  return { model: Model.load(ctx, file, 'seeded lm'), inputs };
}

/** seededLm's model file and inputs. */
export function seededLmFile(seed: number, L: number): { file: Uint8Array; inputs: { src: { dtype: 'I32'; data: Int32Array; shape: number[] } } } {
  const config = {
    format_version: 1, kind: 'lm', d_model: 16, nhead: 2, dim_feedforward: 24, num_encoder_layers: 2, num_decoder_layers: 0, activation: 'relu',
    layer_norm_eps: 1e-5, norm_first: true, batch_first: true, bias: true, encoder_norm: true, decoder_norm: false,
    vocab: ['<pad>', '<s>', '</s>', 'a', 'b', 'c'], positional: 'sinusoidal', max_len: 512, embed_scale: 4, pad_id: 0, bos_id: 1, eos_id: 2, causal: true,
  } as unknown as FileConfig;
  const rand = rng(seed);
  const tensors = new Map([...expectedTensors(config)].map(([n, shape]) => [n, uniform(rand, shape.reduce((a, b) => a * b, 1), -0.5, 0.5)]));
  const file = writeModelFile(config, tensors);
  const src = { dtype: 'I32' as const, data: new Int32Array(L).map(() => 3 + Math.floor(rand() * 3)), shape: [1, L] };
  return { file, inputs: { src } };
}
