// The demo views' test models (e2e/views.spec.ts, e2e/a11y.spec.ts): character lms at a real model's head and layer
// counts, seeded random weights (bench/model_common.ts), written from TypeScript so no PyTorch or download is needed.
//   npx vite-node tools/make_view_models.ts [DIR]   (default test-output/)
// Writes view-lm-12x16.safetensors: causal, 12 layers x 16 heads (d_model 64, head dim 4);
// view-enc-2x16.safetensors: bidirectional (no causal mask), 2 layers x 16 heads.
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { lmConfig } from '../bench/decode.ts';
import { randomWeights } from '../bench/model_common.ts';
import type { FileConfig } from '../src/model/config.ts';
import { writeModelFile } from '../src/model/config.ts';

/** Lower-case letters, digits, space and light punctuation, one character per token. */
const VOCAB = [...'abcdefghijklmnopqrstuvwxyz0123456789 .,-'];

function viewModel(name: string, layers: number, causal: boolean): FileConfig {
  return { ...lmConfig({ name, layers, dModel: 64, nhead: 16, ff: 128, vocab: VOCAB.length, prompt: 256, newTokens: 0, reps: 0 }), vocab: VOCAB, causal };
}

/** Sharper attention than 1/sqrt(fan in) gives: the query and key projections scaled up, so maps show structure. */
function weights(config: FileConfig, seed: number): Map<string, Float32Array> {
  const w = randomWeights(config, seed);
  for (const [name, t] of w) if (/self_attn\.in_proj_weight$/.test(name)) for (let i = 0; i < (2 * t.length) / 3; i++) t[i] *= 3;
  return w;
}

const MODELS = [
  { file: 'view-lm-12x16.safetensors', config: viewModel('view-lm-12x16', 12, true), seed: 21 },
  { file: 'view-enc-2x16.safetensors', config: viewModel('view-enc-2x16', 2, false), seed: 22 },
];

const dir = process.argv[2] ?? 'test-output';
mkdirSync(dir, { recursive: true });
for (const m of MODELS) {
  const bytes = writeModelFile(m.config, weights(m.config, m.seed));
  writeFileSync(join(dir, m.file), bytes);
  console.log(`${join(dir, m.file)}: ${(bytes.length / 1e6).toFixed(2)} MB`);
}
