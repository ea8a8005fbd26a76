// An untrained seq2seq model at the size where the explorer's flow used to break (issue #20): 6 encoder + 6 decoder
// layers x 12 heads, d_model 192, the dates model's vocabularies (so date-like text reads), sinusoidal positions up to
// 512 tokens, seeded random weights (bench/model_common.ts). No eos: generation always runs to the requested length,
// so the number of output rows is what the page asks for. Written from TypeScript so CI and the e2e spec make it
// without PyTorch or downloads; it stays out of git (e2e/flow.spec.ts makes it in test-output/).
//   npx vite-node tools/make_explorer_model.ts [OUT]   (default test-output/explorer-6x12.safetensors)
import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';
import { randomWeights } from '../bench/model_common.ts';
import type { FileConfig } from '../src/model/config.ts';
import { writeModelFile } from '../src/model/config.ts';

const SRC_VOCAB = ['<pad>', '<bos>', '<eos>', ...` ',-./0123456789ABCDEFGHIJLMNOPRSTUVWYabcdefghijlmnoprstuvwy`];
const TGT_VOCAB = ['<pad>', '<bos>', '<eos>', ...'0123456789-'];

const EXPLORER_CONFIG: FileConfig = {
  format_version: 1,
  kind: 'seq2seq',
  d_model: 192,
  nhead: 12,
  dim_feedforward: 768,
  num_encoder_layers: 6,
  num_decoder_layers: 6,
  activation: 'relu',
  layer_norm_eps: 1e-5,
  norm_first: false,
  batch_first: true,
  bias: true,
  encoder_norm: true,
  decoder_norm: true,
  positional: 'sinusoidal',
  max_len: 512,
  embed_scale: Math.sqrt(192),
  pad_id: 0,
  bos_id: 1,
  eos_id: null,
  src_vocab: SRC_VOCAB,
  tgt_vocab: TGT_VOCAB,
};

const out = process.argv[2] ?? 'test-output/explorer-6x12.safetensors';
const bytes = writeModelFile(EXPLORER_CONFIG, randomWeights(EXPLORER_CONFIG, 20)); // the same bytes on every run
mkdirSync(dirname(out), { recursive: true });
writeFileSync(out, bytes);
console.log(`${out}: ${(bytes.length / 1e6).toFixed(2)} MB`);
