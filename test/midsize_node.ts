// Registers one mid-size fixture's case (test/midsize.cases.ts) under each kernel set in Node. Each fixture has its
// own test file (test/midsize_*.test.ts) so that vitest runs them side by side.
import { readFile } from 'node:fs/promises';
import { afterAll, beforeAll, it } from 'vitest';
import type { GpuContext } from '../src/gpu/context.ts';
import { createNodeContext } from '../src/gpu/node.ts';
import { KERNEL_SETS, kernelSetName, withKernels } from './harness.ts';
import { MIDSIZE_FIXTURES, midsizeCases, type MidsizeResult } from './midsize.cases.ts';

export function midsizeTests(name: (typeof MIDSIZE_FIXTURES)[number]): void {
  const dir = new URL('./fixtures/midsize/', import.meta.url);
  const results: [string, MidsizeResult][] = [];
  let ctx: GpuContext;
  beforeAll(async () => {
    ctx = await createNodeContext({ who: `mid-size fixture ${name}` });
  });
  afterAll(() => {
    ctx?.dispose();
    for (const [set, r] of results) {
      const errs = Object.entries(r.worst).map(([k, v]) => `${k} ${v.toExponential(2)}`).join(', ');
      console.log(`${r.name} (${set}): max |attnscope - torch| / max |torch|: ${errs}; forward ${r.forwardMs.toFixed(0)} ms, backward ${r.backwardMs.toFixed(0)} ms`);
    }
  });
  for (const kernels of KERNEL_SETS) {
    const set = kernelSetName(kernels);
    const [c] = midsizeCases(async (f) => new Uint8Array(await readFile(new URL(f, dir))), (n) => n === name, (r) => results.push([set, r]));
    // The GPU set on SwiftShader takes about 50 s of CPU for the encoder: room for a machine shared with other files.
    it(`${c.name} (${set})`, () => withKernels(ctx, kernels, () => c.run(ctx)), 600_000);
  }
}
