// Runs the same GPU cases as test/kernels.test.ts, in the page, on navigator.gpu.
// e2e/kernels.spec.ts reads window.kernelSuite when `done` is true.
import { GpuContext } from '../../src/gpu/context.ts';
import { allCases } from '../kernels/index.ts';

export interface SuiteResult {
  done: boolean;
  adapter: string;
  passed: string[];
  failed: { name: string; error: string }[];
}

declare global {
  interface Window {
    kernelSuite: SuiteResult;
  }
}

const result: SuiteResult = { done: false, adapter: '', passed: [], failed: [] };
window.kernelSuite = result;
const list = document.getElementById('results')!;
const only = new URLSearchParams(location.search).get('only');

function report(name: string, error?: string): void {
  const li = document.createElement('li');
  li.className = error ? 'fail' : 'pass';
  li.textContent = error ? `${name}: ${error}` : name;
  list.append(li);
}

async function main(): Promise<void> {
  if (!navigator.gpu) throw new Error('navigator.gpu is missing: this browser has no WebGPU');
  const ctx = await GpuContext.create(navigator.gpu, { who: 'browser kernel suite' });
  result.adapter = ctx.adapterName;
  document.getElementById('adapter')!.textContent = `adapter: ${ctx.adapterName}`;
  try {
    for (const c of allCases.filter((x) => !only || x.name.includes(only))) {
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
