// The Hugging Face reference cases (test/hf.cases.ts) in Node, under both kernel sets, files read from disk.
import { readFile } from 'node:fs/promises';
import { afterAll, beforeAll, it } from 'vitest';
import type { GpuContext, KernelChoice } from '../src/gpu/context.ts';
import { createNodeContext } from '../src/gpu/node.ts';
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

const choices: KernelChoice[] = [
  { attention: 'fused', matmul: 'tiled', rows: 'wide' },
  { attention: 'steps', matmul: 'direct', rows: 'narrow' },
];
for (const kernels of choices) {
  const cases = makeHfCases(async (p) => new Uint8Array(await readFile(new URL(p, dir))), (r) => results.push({ ...r, kernels: kernels.attention }));
  for (const c of cases) {
    it(`${c.name} matches the HF reference (${kernels.attention} attention, ${kernels.matmul} matmul)`, async () => {
      const saved = ctx.kernels;
      ctx.kernels = kernels;
      try {
        await c.run(ctx);
      } finally {
        ctx.kernels = saved;
      }
    });
  }
}
