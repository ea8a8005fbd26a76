// The long-context demo model (docs/long-context-demo.md): a causal character lm, 4 layers, d_model 128, 4 heads,
// sinusoidal positions up to 8,192 tokens, seeded random weights (bench/model_common.ts). Written from TypeScript so
// CI and the e2e setup make it without PyTorch; it stays out of git (demo/models/ is where the page finds it).
//   npx vite-node tools/make_long_model.ts [OUT]   (default test-output/long-lm.safetensors; open it in the demo)
import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';
import { randomWeights } from '../bench/model_common.ts';
import type { FileConfig } from '../src/model/config.ts';
import { writeModelFile } from '../src/model/config.ts';

/**
 * Lower-case letters, space and light punctuation, one character per token: English text reads, and the logits every
 * forward brings back stay small (L x 30 x 4 bytes; the library reads a forward's output back whole).
 */
const VOCAB = [...'abcdefghijklmnopqrstuvwxyz .,\n'];

const LONG_CONFIG: FileConfig = {
  format_version: 1,
  kind: 'lm',
  d_model: 128,
  nhead: 4,
  dim_feedforward: 512,
  num_encoder_layers: 4,
  num_decoder_layers: 0,
  activation: 'gelu',
  layer_norm_eps: 1e-5,
  norm_first: true,
  batch_first: true,
  bias: true,
  encoder_norm: true,
  decoder_norm: false,
  positional: 'sinusoidal',
  max_len: 8192,
  embed_scale: Math.sqrt(128),
  pad_id: null,
  bos_id: null,
  eos_id: null,
  vocab: VOCAB,
  causal: true,
};

const LONG_SEED = 15;

function longModel(): Uint8Array {
  return writeModelFile(LONG_CONFIG, randomWeights(LONG_CONFIG, LONG_SEED));
}

{
  const out = process.argv[2] ?? 'test-output/long-lm.safetensors';
  mkdirSync(dirname(out), { recursive: true });
  const bytes = longModel();
  writeFileSync(out, bytes);
  console.log(`${out}: ${(bytes.length / 1e6).toFixed(2)} MB`);
}
