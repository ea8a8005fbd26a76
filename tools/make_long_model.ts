// The long-context demo model (docs/long-context-demo.md): a causal character lm, 4 layers, d_model 128, 4 heads,
// sinusoidal positions up to 8,192 tokens, seeded random weights (bench/model_common.ts). Written from TypeScript so
// CI and the e2e setup make it without PyTorch; it stays out of git (open it in the demo with "Open files…").
//   npx vite-node tools/make_long_model.ts [OUT]   (default test-output/long-lm.safetensors)
import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';
import { lmConfig } from '../bench/decode.ts';
import { randomWeights } from '../bench/model_common.ts';
import type { FileConfig } from '../src/model/config.ts';
import { writeModelFile } from '../src/model/config.ts';

/**
 * Lower-case letters, space and light punctuation, one character per token: English text reads, and the logits every
 * forward brings back stay small (L x 30 x 4 bytes; the library reads a forward's output back whole).
 */
const VOCAB = [...'abcdefghijklmnopqrstuvwxyz .,\n'];

// The benchmarks' causal lm (pre-norm, gelu, biases, final norm, batch first), at this shape, with sinusoidal positions
const LONG_CONFIG: FileConfig = {
  ...lmConfig({ name: 'long', layers: 4, dModel: 128, nhead: 4, ff: 512, vocab: VOCAB.length, prompt: 8192, newTokens: 0, reps: 0 }),
  positional: 'sinusoidal',
  embed_scale: Math.sqrt(128),
  vocab: VOCAB,
};

const out = process.argv[2] ?? 'test-output/long-lm.safetensors';
const bytes = writeModelFile(LONG_CONFIG, randomWeights(LONG_CONFIG, 15));
mkdirSync(dirname(out), { recursive: true });
writeFileSync(out, bytes);
console.log(`${out}: ${(bytes.length / 1e6).toFixed(2)} MB`);
