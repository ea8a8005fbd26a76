// Runs the same GPU cases as Node, in the page, on navigator.gpu: every kernel case (test/kernels/, under each kernel
// set), the PyTorch parity cases (test/parity.cases.ts) of a few diverse fixtures, one mid-size fixture
// (test/midsize.cases.ts) under the adapter's kernel set, and every Hugging Face reference case of the supported
// families (test/hf.cases.ts), fetched from the dev server.
// e2e/kernels.spec.ts reads window.kernelSuite when `done` is true.
import { GpuContext } from '../../src/gpu/context.ts';
import type { GpuCase } from '../harness.ts';
import { allCases, caseCounts, rowWidthReport } from '../kernels/index.ts';
import { makeHfCases } from '../hf.cases.ts';
import { midsizeCases } from '../midsize.cases.ts';
import { parityCases } from '../parity.cases.ts';
import { BROWSER_FIXTURES, BROWSER_MIDSIZE, type SuiteResult } from './suite.ts';

const result: SuiteResult = {
  done: false,
  adapter: '',
  passed: [],
  failed: [],
  parity: [],
  hf: [],
  expected: { kernel: 0, parity: 0, midsize: 0, hf: 0 },
  caseFiles: { ...caseCounts },
  rowWidths: { lines: [], missing: [], bothSets: 0, oneSet: 0 },
};
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
  const parity = parityCases(fetchFixture, (name) => BROWSER_FIXTURES.includes(name), (r) => result.parity.push(r));
  const hf = makeHfCases((path) => fetchFixture(`hf/${path}`), (r) => result.hf.push(r)).map((c) => ({ ...c, name: `hf ${c.name}` }));
  const midsize = midsizeCases((file) => fetchFixture(`midsize/${file}`), (name) => name === BROWSER_MIDSIZE);
  result.expected = { kernel: allCases.length, parity: parity.length, midsize: midsize.length, hf: hf.length };
  const cases: GpuCase[] = [...allCases, ...parity, ...midsize, ...hf];
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
    result.rowWidths = rowWidthReport();
    ctx.dispose();
  }
}

main()
  .catch((e) => result.failed.push({ name: 'suite setup', error: e instanceof Error ? e.message : String(e) }))
  .finally(() => {
    result.done = true;
    document.getElementById('summary')!.textContent = `${result.passed.length} passed, ${result.failed.length} failed`;
  });
