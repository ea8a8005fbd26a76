// Parity with PyTorch in Node: every fixture of test/fixtures/index.json through Model.forward, via the shared
// cases of test/parity.cases.ts (the browser page runs a subset of the same cases), under both kernel choices.
import { readFile } from 'node:fs/promises';
import { afterAll, beforeAll, it } from 'vitest';
import type { GpuContext } from '../src/gpu/context.ts';
import { createNodeContext } from '../src/gpu/node.ts';
import { KERNEL_SETS, withKernels } from './harness.ts';
import { parityCases, type ParityResult } from './parity.cases.ts';

const dir = new URL('./fixtures/', import.meta.url);
const results: ParityResult[] = [];

let ctx: GpuContext;
beforeAll(async () => {
  ctx = await createNodeContext({ who: 'parity tests' });
});
afterAll(() => {
  ctx?.dispose();
  if (results.length) {
    const rows = results.map((r) => `  ${r.name.padEnd(30)} ${r.maxAbsError.toExponential(2)}  ${r.firstMs.toFixed(0).padStart(6)} ms  ${r.cachedMs.toFixed(0).padStart(5)} ms`);
    console.log(`max |attnscope - torch|, first forward, cached forward:\n${rows.join('\n')}`);
  }
});

const cases = parityCases(
  async (file) => new Uint8Array(await readFile(new URL(file, dir))),
  undefined,
  (r) => results.push(r),
);
for (const kernels of KERNEL_SETS) {
  for (const c of cases) {
    it(`${c.name} (${kernels.attention} attention, ${kernels.matmul} matmul, ${kernels.rows} rows)`, () => withKernels(ctx, kernels, () => c.run(ctx)));
  }
}
