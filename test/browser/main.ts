// Runs the same GPU cases as Node, in the page, on navigator.gpu: every kernel case (test/kernels/), the PyTorch
// parity cases (test/parity.cases.ts) of a few diverse fixtures, and every Hugging Face reference case of the
// supported families (test/hf.cases.ts), fetched from the dev server.
// e2e/kernels.spec.ts reads window.kernelSuite when `done` is true.
import { GpuContext } from '../../src/gpu/context.ts';
import type { GpuCase } from '../harness.ts';
import { allCases } from '../kernels/index.ts';
import { type HfResult, makeHfCases } from '../hf.cases.ts';
import { parityCases, type ParityResult } from '../parity.cases.ts';

export interface SuiteResult {
  done: boolean;
  adapter: string;
  passed: string[];
  failed: { name: string; error: string }[];
  /** What each passing parity case measured. */
  parity: ParityResult[];
  /** What each passing Hugging Face case measured. */
  hf: HfResult[];
}

declare global {
  interface Window {
    kernelSuite: SuiteResult;
  }
}

/**
 * The fixtures the browser checks (all 20 run in Node), one or more of each model kind: nn.Transformer seq-first
 * and batch-first (bool src_mask), every mask bool, an encoder stack with a float mask, a decoder stack with
 * padding, a token seq2seq model and a causal encoder LM.
 */
export const BROWSER_FIXTURES = [
  'post-relu-seqfirst',
  'pre-gelu-batchfirst',
  'bool-masks-eps1e-3',
  'encoder-pre-gelu-nonorm',
  'decoder-post-relu-norm',
  'seq2seq-sinusoidal',
  'lm-learned-causal',
];

const result: SuiteResult = { done: false, adapter: '', passed: [], failed: [], parity: [], hf: [] };
window.kernelSuite = result;
const list = document.getElementById('results')!;
const only = new URLSearchParams(location.search).get('only');

function report(name: string, error?: string): void {
  const li = document.createElement('li');
  li.className = error ? 'fail' : 'pass';
  li.textContent = error ? `${name}: ${error}` : name;
  list.append(li);
}

/** A fixture file as Vite's dev server serves it. */
async function fetchFixture(file: string): Promise<Uint8Array> {
  const url = `/test/fixtures/${file}`;
  const res = await fetch(url);
  if (!res.ok) throw new Error(`fetch ${url}: HTTP ${res.status}`);
  return new Uint8Array(await res.arrayBuffer());
}

async function main(): Promise<void> {
  if (!navigator.gpu) throw new Error('navigator.gpu is missing: this browser has no WebGPU');
  const ctx = await GpuContext.create(navigator.gpu, { who: 'browser kernel suite' });
  result.adapter = ctx.adapterName;
  document.getElementById('adapter')!.textContent = `adapter: ${ctx.adapterName}`;
  const cases: GpuCase[] = [
    ...allCases,
    ...parityCases(fetchFixture, (name) => BROWSER_FIXTURES.includes(name), (r) => result.parity.push(r)),
    ...makeHfCases((path) => fetchFixture(`hf/${path}`), (r) => result.hf.push(r)).map((c) => ({ ...c, name: `hf ${c.name}` })),
  ];
  try {
    for (const c of cases.filter((x) => !only || x.name.includes(only))) {
      try {
        await c.run(ctx);
        result.passed.push(c.name);
        report(c.name);
      } catch (e) {
        const error = e instanceof Error ? e.message : String(e);
        result.failed.push({ name: c.name, error });
        report(c.name, error);
      }
    }
  } finally {
    ctx.dispose();
  }
}

main()
  .catch((e) => result.failed.push({ name: 'suite setup', error: e instanceof Error ? e.message : String(e) }))
  .finally(() => {
    result.done = true;
    document.getElementById('summary')!.textContent = `${result.passed.length} passed, ${result.failed.length} failed`;
  });
