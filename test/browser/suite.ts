// What the browser suite page (test/browser/main.ts) reports on window.kernelSuite, and which fixtures it runs:
// shared with e2e/kernels.spec.ts, which imports this file (no Vite-only imports here).
import type { HfResult } from '../hf.cases.ts';
import type { ParityResult } from '../parity.cases.ts';

/**
 * The fixtures the browser checks (all run in Node), one or more of each model kind: nn.Transformer seq-first
 * and batch-first (bool src_mask), every mask bool, an encoder stack with a float mask, a decoder stack with
 * padding, a token seq2seq model, a causal encoder LM and the layer-norm eps probe.
 */
export const BROWSER_FIXTURES: readonly string[] = [
  'post-relu-seqfirst',
  'pre-gelu-batchfirst',
  'bool-masks-eps1e-3',
  'encoder-pre-gelu-nonorm',
  'decoder-post-relu-norm',
  'seq2seq-sinusoidal',
  'lm-learned-causal',
  'encoder-tinyvar-eps1e-6',
];

/** The mid-size fixture the browser runs (test/midsize.cases.ts; Node runs each under both kernel sets). */
export const BROWSER_MIDSIZE = 'transformer-d512-h8-s160-t128';

export interface SuiteResult {
  done: boolean;
  adapter: string;
  passed: string[];
  failed: { name: string; error: string }[];
  /** What each passing parity case measured. */
  parity: ParityResult[];
  /** What each passing Hugging Face case measured. */
  hf: HfResult[];
  /** How many cases of each kind the page was given, counted from the lists it imports. */
  expected: { kernel: number; parity: number; midsize: number; hf: number };
  /** Cases per kernel case file, by file name. */
  caseFiles: Record<string, number>;
  /** test/kernels/index.ts's rowWidthReport after the kernel cases. */
  rowWidths: { lines: string[]; missing: string[]; bothSets: number; oneSet: number };
}

declare global {
  interface Window {
    kernelSuite: SuiteResult;
  }
}
