// The Hugging Face reference cases (test/hf.cases.ts) in Node, under both kernel sets, files read from disk.
import { readFile } from 'node:fs/promises';
import { afterAll, beforeAll, it } from 'vitest';
import type { GpuContext } from '../src/gpu/context.ts';
import { createNodeContext } from '../src/gpu/node.ts';
import { KERNEL_SETS, withKernels } from './harness.ts';
import { type HfResult, makeHfCases } from './hf.cases.ts';

const dir = new URL('./fixtures/hf/', import.meta.url);
let ctx: GpuContext;
const results: (HfResult & { kernels: string })[] = [];
beforeAll(async () => {
  ctx = await createNodeContext({ who: 'HF checkpoint tests' });
});
afterAll(() => {
  ctx?.dispose();
  const f = (x?: number) => (x === undefined ? '' : x.toExponential(1));
  console.log(`max |attnscope - HF reference| (output, attention, grad rel):\n${results.map((r) => `  ${r.name.padEnd(26)} ${r.kernels.padEnd(7)} ${f(r.output)}  ${f(r.attention)}  ${f(r.grad)}`).join('\n')}`);
});

for (const kernels of KERNEL_SETS) {
  const cases = makeHfCases(async (p) => new Uint8Array(await readFile(new URL(p, dir))), (r) => results.push({ ...r, kernels: kernels.attention }));
  for (const c of cases) {
    it(`${c.name} matches the HF reference (${kernels.attention} attention, ${kernels.matmul} matmul)`, () => withKernels(ctx, kernels, () => c.run(ctx)));
  }
}
